// The grid of cameras: every visible, unpaused tile's pictures come over one
// connection ("streams", each part naming its camera), so a browser's six
// connections to a host are enough for any number of cameras. Tiles that are
// off screen, paused, or in a hidden tab are left out of that stream, so
// their cameras can go idle. State, viewers and frame rate come from the
// API every few seconds.
"use strict";

(() => {
  const POLL_MS = 3000;
  const STATES = { running: "live", starting: "starting", idle: "idle", failed: "failed" };
  const RETRY_MS = 2000;
  const SNAPSHOT_MS = 1000;
  const snapshotMode = new URLSearchParams(location.search).get("mode") === "snapshot";
  const connection = document.getElementById("connection");
  const summary = document.getElementById("summary");
  const tiles = new Map();

  for (const element of document.querySelectorAll(".tile")) {
    const tile = {
      element,
      name: element.dataset.camera,
      img: element.querySelector("img"),
      overlay: element.querySelector(".overlay"),
      badge: element.querySelector(".badge"),
      stats: element.querySelector(".stats"),
      pause: element.querySelector(".pause"),
      fullscreen: element.querySelector(".fullscreen"),
      visible: false,
      paused: false,
      shownUrl: null,
      waiting: null,
      loading: false,
      snapshotTimer: null,
      frameWidth: 0,
    };
    tile.pause.addEventListener("click", () => togglePause(tile));
    tile.fullscreen.addEventListener("click", () => toggleFullscreen(tile));
    tiles.set(tile.name, tile);
  }

  // Pictures

  function show(tile, jpeg) {
    // Newest wins here too: while one picture decodes, only the newest waits.
    tile.waiting = jpeg;
    if (!tile.loading) showWaiting(tile);
  }

  function showWaiting(tile) {
    const jpeg = tile.waiting;
    tile.waiting = null;
    if (!jpeg) return;
    tile.loading = true;
    const url = URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" }));
    tile.img.onload = tile.img.onerror = () => {
      if (tile.shownUrl) URL.revokeObjectURL(tile.shownUrl);
      tile.shownUrl = url;
      tile.loading = false;
      showWaiting(tile);
    };
    tile.img.src = url;
  }

  // The stream of every wanted camera

  let stream = null;
  let streamKey = "";
  let restartTimer = null;

  function wanted() {
    if (document.hidden) return [];
    return [...tiles.values()].filter((t) => t.visible && !t.paused).map((t) => t.name);
  }

  // A tile gets its camera's thumbnails only where they save much: when the
  // camera's frames are at least three times as wide as the tile's pixels.
  // Thumbnails cost camserve a decode and an encode per frame; full frames
  // cost it nothing but bandwidth. "?size=full" or "?size=thumbnail" on the
  // page's address decides for every tile.
  const forcedSize = new URLSearchParams(location.search).get("size");

  function thumbnail(tile) {
    if (forcedSize) return forcedSize === "thumbnail";
    if (document.fullscreenElement) return false;
    const pixels = tile.img.clientWidth * devicePixelRatio;
    return Boolean(tile.frameWidth) && tile.frameWidth >= 3 * pixels;
  }

  function scheduleRestart(delay = 150) {
    clearTimeout(restartTimer);
    restartTimer = setTimeout(restart, delay);
  }

  function restart() {
    if (snapshotMode) {
      for (const tile of tiles.values()) refreshSnapshots(tile);
      return;
    }
    const names = wanted();
    const small = names.filter((name) => thumbnail(tiles.get(name)));
    const list = (some) => some.map(encodeURIComponent).join(",");
    const query = `cameras=${list(names)}&thumbnails=${list(small)}`;
    const key = names.length ? query : "";
    if (key === streamKey && stream) return;
    if (stream) stream.abort();
    stream = null;
    streamKey = key;
    if (!names.length) return;
    const controller = new AbortController();
    stream = controller;
    read(`streams?${query}`, controller).catch(() => {}).finally(() => {
      if (stream === controller) {
        stream = null;
        scheduleRestart(RETRY_MS);
      }
    });
  }

  async function read(url, controller) {
    const response = await fetch(url, { signal: controller.signal, cache: "no-store" });
    if (!response.ok || !response.body) throw new Error(`status ${response.status}`);
    const parts = new PartReader((camera, jpeg) => {
      const tile = tiles.get(camera);
      if (tile && !tile.paused) show(tile, jpeg);
    });
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parts.push(value);
    }
  }

  // Reads a multipart stream whose parts carry Content-Length and X-Camera.
  class PartReader {
    constructor(onPart) {
      this.onPart = onPart;
      this.buffer = new Uint8Array(0);
      this.length = null;
      this.camera = null;
    }

    push(chunk) {
      const joined = new Uint8Array(this.buffer.length + chunk.length);
      joined.set(this.buffer);
      joined.set(chunk, this.buffer.length);
      this.buffer = joined;
      for (;;) {
        if (this.length === null) {
          const end = find(this.buffer, HEAD_END);
          if (end < 0) return;
          const head = new TextDecoder("latin1").decode(this.buffer.subarray(0, end));
          this.buffer = this.buffer.subarray(end + HEAD_END.length);
          const headers = {};
          for (const line of head.split("\r\n")) {
            const colon = line.indexOf(":");
            if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
          }
          this.length = parseInt(headers["content-length"], 10);
          this.camera = decodeURIComponent(headers["x-camera"] || "");
          if (!(this.length >= 0)) throw new Error("a part without Content-Length");
        }
        if (this.buffer.length < this.length) return;
        const jpeg = this.buffer.slice(0, this.length);
        this.buffer = this.buffer.subarray(this.length);
        const camera = this.camera;
        this.length = null;
        this.onPart(camera, jpeg);
      }
    }
  }

  // Each part's headers end with a blank line; what comes before the first
  // header line (the boundary) is part of the head and ignored.
  const HEAD_END = new TextEncoder().encode("\r\n\r\n");

  function find(haystack, needle) {
    outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
      for (let j = 0; j < needle.length; j++) {
        if (haystack[i + j] !== needle[j]) continue outer;
      }
      return i;
    }
    return -1;
  }

  // Snapshot mode, for browsers that cannot read a stream: each visible,
  // unpaused tile asks for a fresh snapshot once the last one has loaded.

  function refreshSnapshots(tile) {
    clearTimeout(tile.snapshotTimer);
    if (!tile.visible || tile.paused || document.hidden) return;
    const next = () => {
      tile.snapshotTimer = setTimeout(() => refreshSnapshots(tile), SNAPSHOT_MS);
    };
    tile.img.onload = tile.img.onerror = next;
    tile.img.src = `cameras/${encodeURIComponent(tile.name)}/snapshot.jpg?t=${Date.now()}`;
  }

  // Controls

  function togglePause(tile) {
    tile.paused = !tile.paused;
    tile.pause.setAttribute("aria-pressed", String(tile.paused));
    tile.pause.textContent = tile.paused ? "Resume" : "Pause";
    tile.element.classList.toggle("paused", tile.paused);
    if (tile.element.dataset.state !== "failed") {
      tile.overlay.textContent = tile.paused ? "Paused" : "";
    }
    scheduleRestart(0);
  }

  function toggleFullscreen(tile) {
    if (document.fullscreenElement) document.exitFullscreen();
    else tile.element.requestFullscreen?.();
  }

  document.addEventListener("fullscreenchange", () => scheduleRestart(0));
  document.addEventListener("visibilitychange", () => scheduleRestart(0));
  addEventListener("resize", () => scheduleRestart(500));

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const tile = tiles.get(entry.target.dataset.camera);
      if (tile) tile.visible = entry.isIntersecting;
    }
    scheduleRestart();
  });
  for (const tile of tiles.values()) observer.observe(tile.element);

  // State, viewers and frame rate

  async function poll() {
    try {
      const response = await fetch("api/cameras", { cache: "no-store" });
      if (!response.ok) throw new Error(`status ${response.status}`);
      const cameras = await response.json();
      connection.textContent = "";
      let live = 0;
      for (const camera of cameras) {
        const tile = tiles.get(camera.name);
        if (camera.state === "running") live++;
        if (!tile) continue;
        tile.frameWidth = camera.width || tile.frameWidth;
        tile.element.dataset.state = camera.state;
        tile.badge.textContent = STATES[camera.state] || camera.state;
        tile.stats.textContent = `${camera.viewers} watching · ${camera.fps.toFixed(1)} fps`;
        tile.overlay.textContent = camera.state === "failed"
          ? `No picture: ${camera.last_error}` : tile.paused ? "Paused" : "";
      }
      if (cameras.length !== tiles.size) location.reload();
      scheduleRestart();
      summary.textContent = `${cameras.length} camera${cameras.length === 1 ? "" : "s"}, ${live} live`;
    } catch (error) {
      connection.textContent = "camserve is not answering; retrying";
    }
    // Soon after the page opens, when cameras have just started, then at
    // the usual pace.
    setTimeout(poll, polls++ < 2 ? POLL_MS / 3 : POLL_MS);
  }

  let polls = 0;
  poll();
})();
