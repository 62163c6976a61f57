"use strict";
// imgdiff-gpu report: draws the compare, batch or video view from the JSON data
// block of this page. Every string from the data reaches the page through
// textContent or a property (never innerHTML), so file names stay text.
(function () {
  const data = JSON.parse(document.getElementById("imgdiff-data").textContent);
  const app = document.getElementById("app");
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) if (child != null) node.append(child);
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  // A path relative to this page, each segment URL-encoded ("#", "?" and "%" are valid in file names).
  function href(path) {
    return path.split("/").map(encodeURIComponent).join("/");
  }

  function fmt(value, digits) {
    return value == null || Number.isNaN(value) ? "—" : Number(value).toFixed(digits);
  }

  function facts(entries) {
    const dl = el("dl", { className: "facts" });
    for (const [name, value] of entries) {
      if (value == null || value === "") continue;
      dl.append(el("dt", { text: name }), el("dd", { text: String(value) }));
    }
    return dl;
  }

  function settingsText(settings) {
    return Object.entries(settings || {})
      .map(([k, v]) => k + "=" + (typeof v === "object" && v !== null ? JSON.stringify(v) : v))
      .join(", ");
  }

  function toggleButtons(names, initial, onChange) {
    const group = el("div", { className: "group", role: "group" });
    const buttons = names.map(([value, label]) => {
      const button = el("button", { type: "button", "data-value": value, "aria-pressed": String(value === initial), text: label });
      button.addEventListener("click", () => {
        for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
        onChange(value);
      });
      return button;
    });
    group.append(...buttons);
    return group;
  }

  // --- one comparison: side by side, overlay, swipe; zoom and pan shared by every viewport ---

  function compareView(view) {
    const outputs = new Set(view.outputs || []);
    const regions = view.regions || [];
    const root = el("section", { className: "compare" });
    const zoom = { scale: 1, x: 0, y: 0, fitted: true };
    const viewports = [];
    const boxSets = [];
    let selected = -1;
    let size = view.width && view.height ? { w: view.width, h: view.height } : null;

    function picture(name, alt) {
      const img = el("img", { alt: alt, draggable: "false", decoding: "async" });
      img.src = href(view.base + name);
      return img;
    }

    function boxes() {
      const svg = svgEl("svg", { "aria-hidden": "true" });
      regions.forEach((r, i) => {
        const rect = svgEl("rect", { x: r.x, y: r.y, width: r.width, height: r.height, "data-region": i });
        rect.addEventListener("click", (event) => { event.stopPropagation(); select(i, false); });
        svg.append(rect);
      });
      boxSets.push(svg);
      return svg;
    }

    function stage(layers, sized) {
      const s = el("div", { className: "stage" }, layers);
      s.sized = sized;
      return s;
    }

    function viewport(stageNode, extra) {
      const vp = el("div", { className: "viewport", tabindex: "0" }, [stageNode, extra]);
      vp.stage = stageNode;
      viewports.push(vp);
      let drag = null;
      vp.addEventListener("pointerdown", (event) => {
        drag = { x: event.clientX, y: event.clientY };
        vp.setPointerCapture(event.pointerId);
        vp.classList.add("dragging");
      });
      vp.addEventListener("pointermove", (event) => {
        if (!drag) return;
        zoom.x += event.clientX - drag.x;
        zoom.y += event.clientY - drag.y;
        zoom.fitted = false;
        drag = { x: event.clientX, y: event.clientY };
        apply();
      });
      const stop = () => { drag = null; vp.classList.remove("dragging"); };
      vp.addEventListener("pointerup", stop);
      vp.addEventListener("pointercancel", stop);
      vp.addEventListener("wheel", (event) => {
        event.preventDefault();
        const box = vp.getBoundingClientRect();
        zoomAt(event.deltaY < 0 ? 1.25 : 0.8, event.clientX - box.left, event.clientY - box.top);
      }, { passive: false });
      return vp;
    }

    function visibleViewport() {
      return viewports.find((vp) => vp.offsetParent !== null) || viewports[0];
    }

    function apply() {
      for (const vp of viewports) {
        const s = vp.stage;
        const w = s.sized && s.sized.w ? s.sized.w : size ? size.w : 0;
        const h = s.sized && s.sized.h ? s.sized.h : size ? size.h : 0;
        s.style.width = w + "px";
        s.style.height = h + "px";
        s.style.transform = "translate(" + zoom.x + "px, " + zoom.y + "px) scale(" + zoom.scale + ")";
        vp.classList.toggle("pixelated", zoom.scale >= 2);
      }
      for (const svg of boxSets) if (size) svg.setAttribute("viewBox", "0 0 " + size.w + " " + size.h);
      for (const svg of boxSets) if (size) { svg.setAttribute("width", size.w); svg.setAttribute("height", size.h); }
      zoomLabel.textContent = Math.round(zoom.scale * 100) + " %";
      if (swipeDivider) swipeDivider.style.left = (zoom.x + (size ? size.w : 0) * zoom.scale * swipe.value / 100) + "px";
    }

    function fit() {
      const vp = visibleViewport();
      if (!size || !vp) return;
      const w = vp.clientWidth, h = vp.clientHeight;
      zoom.scale = Math.min(w / size.w, h / size.h) || 1;
      zoom.x = (w - size.w * zoom.scale) / 2;
      zoom.y = (h - size.h * zoom.scale) / 2;
      zoom.fitted = true;
      apply();
    }

    function zoomAt(factor, cx, cy) {
      const scale = Math.min(64, Math.max(0.02, zoom.scale * factor));
      zoom.x = cx - (cx - zoom.x) * (scale / zoom.scale);
      zoom.y = cy - (cy - zoom.y) * (scale / zoom.scale);
      zoom.scale = scale;
      zoom.fitted = false;
      apply();
    }

    function zoomCentre(factor) {
      const vp = visibleViewport();
      zoomAt(factor, vp.clientWidth / 2, vp.clientHeight / 2);
    }

    function select(i, fromTable) {
      selected = i;
      for (const svg of boxSets)
        for (const rect of svg.querySelectorAll("rect")) rect.classList.toggle("selected", Number(rect.dataset.region) === i);
      for (const row of regionRows) row.classList.toggle("selected", Number(row.dataset.region) === i);
      if (!fromTable && regionRows[i]) regionRows[i].scrollIntoView({ block: "nearest" });
      const r = regions[i];
      const vp = visibleViewport();
      if (!r || !vp) return;
      // show the region at three times its size, within the viewport, centred
      const w = vp.clientWidth, h = vp.clientHeight;
      zoom.scale = Math.min(32, Math.max(0.02, Math.min(w / (r.width * 3), h / (r.height * 3))));
      zoom.x = w / 2 - (r.x + r.width / 2) * zoom.scale;
      zoom.y = h / 2 - (r.y + r.height / 2) * zoom.scale;
      zoom.fitted = false;
      apply();
    }

    // pictures: the left with boxes, and a choice of right-hand pictures that exist
    const rightChoices = [
      ["right_marked.png", "right"],
      ["right_filled.png", "right, regions filled"],
      ["diff.png", "SSIM heat map"],
      ["mask.png", "mask"],
    ].filter(([name]) => outputs.has(name));
    let rightName = rightChoices.length ? rightChoices[0][0] : null;
    const rightImages = [];
    function rightPicture(alt) {
      const img = picture(rightName, alt);
      rightImages.push(img);
      return img;
    }

    const leftSide = picture("left_marked.png", "left");
    const rightSized = view.right_width && view.right_height && (view.right_width !== view.width || view.right_height !== view.height)
      ? { w: view.right_width, h: view.right_height } : null;
    const side = el("div", { className: "views", "data-mode": "side" }, [
      el("div", { className: "pane" }, [el("div", { className: "label", text: "left" }), viewport(stage([leftSide, boxes()]))]),
      el("div", { className: "pane" }, [el("div", { className: "label", text: "right" }), viewport(stage([rightPicture("right"), boxes()], rightSized))]),
    ]);

    const overlayTop = rightPicture("right over left");
    const overlay = el("div", { className: "views", "data-mode": "overlay", hidden: "" }, [
      el("div", { className: "pane" }, [el("div", { className: "label", text: "right over left" }),
        viewport(stage([picture("left_marked.png", "left"), overlayTop, boxes()]))]),
    ]);

    const swipeTop = rightPicture("right, swiped over left");
    swipeTop.classList.add("swipe-right");
    const swipeDivider = el("div", { className: "divider" });
    const swipe = el("input", { type: "range", min: "0", max: "100", value: "50", "aria-label": "swipe position", className: "swipe" });
    const swipePane = el("div", { className: "views", "data-mode": "swipe", hidden: "" }, [
      el("div", { className: "pane" }, [el("div", { className: "label", text: "left | right" }),
        viewport(stage([picture("left_marked.png", "left"), swipeTop, boxes()]), swipeDivider)]),
    ]);
    function applySwipe() {
      swipeTop.style.clipPath = "inset(0 0 0 " + swipe.value + "%)";
      apply();
    }
    swipe.addEventListener("input", applySwipe);

    const opacity = el("input", { type: "range", min: "0", max: "100", value: "50", "aria-label": "opacity of the right picture", className: "opacity" });
    opacity.addEventListener("input", () => { overlayTop.style.opacity = String(opacity.value / 100); });
    overlayTop.style.opacity = "0.5";
    const blink = el("input", { type: "checkbox", className: "blink", "aria-label": "blink" });
    let blinkTimer = null;
    blink.addEventListener("change", () => {
      clearInterval(blinkTimer);
      overlayTop.style.visibility = "";
      if (blink.checked) {
        overlayTop.style.opacity = "1";
        blinkTimer = setInterval(() => {
          overlayTop.style.visibility = overlayTop.style.visibility === "hidden" ? "" : "hidden";
        }, 600);
      } else overlayTop.style.opacity = String(opacity.value / 100);
    });

    const modes = { side: side, overlay: overlay, swipe: swipePane };
    const overlayControls = el("div", { className: "group", hidden: "" }, [el("span", { text: "opacity" }), opacity,
      el("label", {}, [blink, " blink"])]);
    const swipeControls = el("div", { className: "group", hidden: "" }, [el("span", { text: "swipe" }), swipe]);
    function setMode(mode) {
      for (const [name, node] of Object.entries(modes)) node.hidden = name !== mode;
      overlayControls.hidden = mode !== "overlay";
      swipeControls.hidden = mode !== "swipe";
      if (zoom.fitted) fit(); else apply();
    }

    const zoomLabel = el("span", { className: "zoom-label", text: "100 %" });
    const zoomIn = el("button", { type: "button", text: "+", "aria-label": "zoom in", className: "zoom-in" });
    const zoomOut = el("button", { type: "button", text: "−", "aria-label": "zoom out", className: "zoom-out" });
    const zoomFit = el("button", { type: "button", text: "fit", className: "zoom-fit" });
    const zoomOne = el("button", { type: "button", text: "1:1", className: "zoom-one" });
    zoomIn.addEventListener("click", () => zoomCentre(1.5));
    zoomOut.addEventListener("click", () => zoomCentre(1 / 1.5));
    zoomFit.addEventListener("click", fit);
    zoomOne.addEventListener("click", () => zoomCentre(1 / zoom.scale));

    const rightSelect = el("select", { "aria-label": "right-hand picture", className: "right-picture" });
    for (const [name, label] of rightChoices) rightSelect.append(el("option", { value: name, text: label }));
    rightSelect.addEventListener("change", () => {
      rightName = rightSelect.value;
      for (const img of rightImages) img.src = href(view.base + rightName);
    });

    const modeButtons = toggleButtons([["side", "side by side"], ["overlay", "overlay"], ["swipe", "swipe"]], "side", setMode);
    if (rightSized) {
      // one picture over another of a different size would line up nothing
      for (const b of modeButtons.querySelectorAll("button[data-value='overlay'], button[data-value='swipe']")) {
        b.disabled = true;
        b.title = "the pictures differ in size";
      }
    }
    const toolbar = el("div", { className: "toolbar" }, [
      modeButtons,
      el("div", { className: "group" }, [el("span", { text: "right:" }), rightSelect]),
      overlayControls, swipeControls,
      el("div", { className: "group" }, [zoomOut, zoomFit, zoomOne, zoomIn, zoomLabel]),
    ]);

    const regionRows = [];
    const table = el("table", { className: "regions" }, [
      el("thead", {}, [el("tr", {}, ["#", "x", "y", "width", "height", "area (px)", "min SSIM", "mean SSIM", "colour distance"]
        .map((t, i) => el("th", { className: i ? "num" : "", text: t })))]),
    ]);
    const body = el("tbody");
    regions.forEach((r, i) => {
      const row = el("tr", { tabindex: "0", "data-region": String(i) }, [
        el("td", { text: String(i + 1) }),
        ...[r.x, r.y, r.width, r.height, r.area].map((v) => el("td", { className: "num", text: String(v) })),
        ...[r.min_ssim, r.mean_ssim, r.mean_color_delta].map((v) => el("td", { className: "num", text: fmt(v, 4) })),
      ]);
      row.addEventListener("click", () => select(i, true));
      row.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(i, true); } });
      regionRows.push(row);
      body.append(row);
    });
    table.append(body);

    root.append(toolbar, side, overlay, swipePane,
      el("h2", { text: regions.length ? regions.length + " region(s) — choose one to show it" : "No regions" }),
      regions.length ? table : el("p", { className: "empty", text: view.reason || "Nothing differs." }));

    // the first picture's real size, when the report does not say it (video frames)
    leftSide.addEventListener("load", () => {
      if (!size) size = { w: leftSide.naturalWidth, h: leftSide.naturalHeight };
      if (zoom.fitted) fit();
    });
    window.addEventListener("resize", () => { if (zoom.fitted) fit(); });
    root.start = () => { applySwipe(); fit(); };
    root.select = select;
    return root;
  }

  function compareFacts(report) {
    const verdict = report.different ? "different" : "same";
    return facts([
      ["verdict", verdict],
      ["reason", report.reason],
      ["score (mean SSIM)", fmt(report.score, 6)],
      ["regions", (report.regions || []).length],
      ["left", report.left],
      ["right", report.right],
      ["size", report.width + "×" + report.height + (report.right_width && (report.right_width !== report.width || report.right_height !== report.height) ? " (right " + report.right_width + "×" + report.right_height + ")" : "")],
      ["SSIM threshold", fmt(report.ssim_threshold, 4)],
      ["alignment", report.alignment ? JSON.stringify(report.alignment) : null],
      ["notes", (report.notes || []).join("; ")],
      ["device", report.device],
      ["settings", settingsText(report.settings)],
      ["versions", data.versions],
      ["generated", data.generated],
    ]);
  }

  function showCompare() {
    const report = data.report;
    const view = Object.assign({ base: "" }, report);
    const verdict = report.different ? "different" : "same";
    document.getElementById("subtitle").append(
      el("span", { className: "verdict-" + verdict, text: verdict }),
      " — " + (report.regions || []).length + " region(s), score " + fmt(report.score, 4));
    const cv = compareView(view);
    app.append(el("div", { className: "columns" }, [cv, el("div", {}, [el("h2", { text: "Comparison" }), compareFacts(report)])]));
    cv.start();
  }

  // --- a folder of pairs: one row each, filter on status, sort by score ---

  function showBatch() {
    const report = data.report;
    const results = report.results || [];
    const groups = [["same", ["same"]], ["different", ["different"]], ["error", ["error"]], ["one-sided", ["left-only", "right-only"]]];
    const shown = new Set(["same", "different", "error", "left-only", "right-only"]);
    let order = "path";
    document.getElementById("subtitle").textContent = report.left + " ↔ " + report.right;

    const filters = el("div", { className: "filters" }, [el("span", { text: "show:" })]);
    for (const [label, statuses] of groups) {
      const count = results.filter((r) => statuses.includes(r.status)).length;
      const box = el("input", { type: "checkbox", "data-status": label, checked: "" });
      box.addEventListener("change", () => {
        for (const s of statuses) if (box.checked) shown.add(s); else shown.delete(s);
        draw();
      });
      filters.append(el("label", {}, [box, " " + label + " (" + count + ")"]));
    }
    const sortButton = el("button", { type: "button", className: "sort-score", text: "score" });
    const orders = { path: "score", asc: "score ▲ (worst first)", desc: "score ▼" };
    sortButton.addEventListener("click", () => {
      order = order === "asc" ? "desc" : order === "desc" ? "path" : "asc";
      sortButton.textContent = orders[order];
      draw();
    });
    const head = el("thead", {}, [el("tr", {}, [
      el("th", { text: "" }), el("th", { text: "path" }), el("th", { text: "status" }),
      el("th", { className: "num" }, [sortButton]), el("th", { className: "num", text: "regions" }), el("th", { text: "detail" }),
    ])]);
    const body = el("tbody");
    const counter = el("p", { className: "count" });
    app.append(facts([["pairs", report.pairs], ["counts", Object.entries(report.counts || {}).map(([k, v]) => v + " " + k).join(", ")],
      ["settings", settingsText(report.settings)], ["versions", data.versions], ["generated", data.generated]]),
    el("h2", { text: "Pairs" }), filters, counter, el("table", { className: "pairs" }, [head, body]));

    const rows = results.map((r, i) => {
      const pair = (data.pairs || {})[r.path] || {};
      let thumb = el("span", { className: "detail", text: "—" });
      if (pair.thumb) {
        thumb = el("img", { className: "thumb", alt: "", loading: "lazy", decoding: "async" });
        thumb.src = href(pair.thumb);
      }
      const name = pair.href ? el("a", { className: "path" }, [r.path]) : el("span", { className: "path", text: r.path });
      if (pair.href) name.href = href(pair.href);
      const row = el("tr", { "data-status": r.status, "data-index": String(i) }, [
        el("td", {}, [thumb]), el("td", {}, [name]),
        el("td", {}, [el("span", { className: "status " + r.status, text: r.status })]),
        el("td", { className: "num", text: fmt(r.score, 4) }),
        el("td", { className: "num", text: r.regions == null ? "—" : String(r.regions) }),
        el("td", { className: "detail", text: r.detail || "" }),
      ]);
      if (pair.href) row.addEventListener("click", (event) => { if (event.target.tagName !== "A") window.location.href = name.href; });
      return { row: row, result: r, index: i };
    });

    function draw() {
      let list = rows.filter((x) => shown.has(x.result.status));
      if (order !== "path") {
        const key = (x) => (x.result.score == null ? Infinity : x.result.score);
        list = list.slice().sort((a, b) => (order === "asc" ? key(a) - key(b) : key(b) - key(a)) || a.index - b.index);
        if (order === "desc") list = list.filter((x) => x.result.score != null).concat(list.filter((x) => x.result.score == null));
      }
      body.replaceChildren(...list.map((x) => x.row));
      counter.textContent = list.length + " of " + rows.length + " pairs shown";
    }
    draw();
  }

  // --- a video: per-frame score plot with flagged frames, and the worst frames' views ---

  function showVideo() {
    const report = data.report;
    const plot = data.plot || { frames: [], scores: [], flagged: [] };
    const worst = data.worst || [];
    document.getElementById("subtitle").textContent = report.left + " ↔ " + report.right;
    app.append(facts([
      ["verdict", report.different ? "different" : "same"],
      ["reason", report.reason],
      ["frames compared", report.frames_compared],
      ["frames differing", report.frames_different],
      ["frames decoded", Object.entries(report.frames_decoded || {}).map(([k, v]) => k + " " + v).join(", ")],
      ["offset, start, end", [report.offset, report.start, report.end == null ? "—" : report.end].join(", ")],
      ["settings", settingsText(report.settings)],
      ["versions", data.versions],
      ["generated", data.generated],
    ]));
    if ((report.problems || []).length) {
      app.append(el("h2", { text: "Problems" }), el("ul", { className: "problems" }, report.problems.map((p) => el("li", { text: p }))));
    }

    // the plot, in a 1000 x 240 box: score on y (from the lowest score to 1), frame on x
    const W = 1000, H = 240, L = 48, R = 10, T = 10, B = 28;
    const frames = plot.frames, scores = plot.scores;
    const valid = scores.filter((s) => s != null);
    const low = valid.length ? Math.min(0.9, Math.floor(Math.min(...valid) * 20) / 20) : 0;
    const first = frames.length ? frames[0] : 0, last = frames.length ? frames[frames.length - 1] : 1;
    const fx = (f) => L + (last > first ? (f - first) / (last - first) : 0.5) * (W - L - R);
    const fy = (s) => T + (1 - (s - low) / (1 - low || 1)) * (H - T - B);
    const svg = svgEl("svg", { class: "plot", viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img",
      "aria-label": "score per frame" });
    for (let k = 0; k <= 4; k++) {
      const s = low + (1 - low) * k / 4, y = fy(s);
      svg.append(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: y, y2: y }));
      const label = svgEl("text", { x: L - 6, y: y + 4, "text-anchor": "end" });
      label.textContent = s.toFixed(3);
      svg.append(label);
    }
    svg.append(svgEl("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }), svgEl("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    for (const f of [first, last]) {
      const label = svgEl("text", { x: fx(f), y: H - 8, "text-anchor": f === first ? "start" : "end" });
      label.textContent = "frame " + f;
      svg.append(label);
    }
    for (const f of plot.flagged) svg.append(svgEl("line", { class: "flag", x1: fx(f), x2: fx(f), y1: H - B, y2: H - B - 8 }));
    let points = "";
    frames.forEach((f, i) => {
      if (scores[i] == null) return;
      points += fx(f).toFixed(1) + "," + fy(scores[i]).toFixed(1) + " ";
    });
    svg.append(svgEl("polyline", { class: "line", points: points.trim() }));
    const markers = worst.map((w, i) => {
      const c = svgEl("circle", { class: "worst", cx: fx(w.frame), cy: fy(w.score == null ? low : w.score), r: 5, "data-frame": w.frame });
      const title = svgEl("title");
      title.textContent = "frame " + w.frame + ", score " + fmt(w.score, 4);
      c.append(title);
      c.addEventListener("click", () => show(i));
      svg.append(c);
      return c;
    });
    app.append(el("h2", { text: "Score per frame" }), svg,
      el("p", { className: "detail", text: (plot.flagged_total || 0) + " differing frame(s) marked on the axis" +
        (plot.bucket > 1 ? "; each point is the lowest score of " + plot.bucket + " frames" : "") }));

    app.append(el("h2", { text: worst.length ? "Worst frames" : "No frame pictures were exported" }));
    const buttons = worst.map((w, i) => {
      const b = el("button", { type: "button", className: "worst-frame", "data-frame": String(w.frame),
        text: "frame " + w.frame + (w.timestamp == null ? "" : " (" + fmt(w.timestamp, 2) + " s)") + ", score " + fmt(w.score, 4) + ", " + (w.regions || []).length + " region(s)" });
      b.addEventListener("click", () => show(i));
      return b;
    });
    const holder = el("div");
    app.append(el("div", { className: "worst-list" }, buttons), holder);
    function show(i) {
      buttons.forEach((b, k) => b.setAttribute("aria-pressed", String(k === i)));
      markers.forEach((m, k) => m.classList.toggle("selected", k === i));
      const w = worst[i];
      const cv = compareView({ base: w.base, outputs: w.outputs, regions: w.regions, reason: w.reason });
      holder.replaceChildren(cv);
      cv.start();
    }
    if (worst.length) show(0);
  }

  ({ compare: showCompare, batch: showBatch, video: showVideo })[data.kind]();
  document.documentElement.dataset.ready = "true";
})();
