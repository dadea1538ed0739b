// The wall of cameras. Every visible, unpaused tile's pictures come over one
// connection ("streams", each part naming its camera), so a browser's six
// connections to a host are enough for any number of cameras. Tiles that are
// off screen, paused, filtered out or in a hidden tab are left out of that
// stream, so their cameras can go idle. State, viewers and frame rate come
// from the API every few seconds; whether a camera has stalled, the page sees
// for itself from the frames it gets. On a server that records, the wall's
// timeline (wall.js) plays the cameras in view back in step over that same
// connection, and each tile shows the wall's time.
"use strict";

(() => {
  const { Arrangement, Feed, Picture, WallPlayer, saveSnapshot, toggleFullscreen } = window.camserve;
  const POLL_MS = 3000;
  const RETRY_MS = 2000;
  const SNAPSHOT_MS = 1000;
  const NOTE_MS = 6000;
  // A streamed camera is stalled once this many of its frame intervals pass
  // without a new frame, and never sooner than STALL_LEAST_MS, so that a
  // network's jitter does not make it flap.
  const STALL_INTERVALS = 5;
  const STALL_LEAST_MS = 3000;
  const STATES = { running: "live", starting: "starting", idle: "idle", failed: "failed" };
  const query = new URLSearchParams(location.search);
  const snapshotMode = query.get("mode") === "snapshot";
  const grid = document.getElementById("grid");
  const header = document.querySelector("body > .bar");
  const summary = document.getElementById("summary");
  const troubles = document.getElementById("troubles");
  const connection = document.getElementById("connection");
  const tiles = new Map();

  for (const element of grid.querySelectorAll(".tile")) {
    const width = Number(element.dataset.width);
    const height = Number(element.dataset.height);
    const tile = {
      element,
      name: element.dataset.camera,
      state: element.dataset.state,
      link: element.querySelector(".name"),
      overlay: element.querySelector(".overlay"),
      note: element.querySelector(".note"),
      badge: element.querySelector(".badge"),
      time: element.querySelector(".time"),
      stats: element.querySelector(".stats"),
      pause: element.querySelector(".pause"),
      snapshot: element.querySelector(".snapshot"),
      fullscreen: element.querySelector(".fullscreen"),
      aspect: width && height ? width / height : 4 / 3,
      frameWidth: width || 0,
      group: element.dataset.group || null,
      visible: false,
      paused: false,
      stalled: false,
      lastError: null,
      // The newest frame's capture time, when a new one last came (on the
      // page's clock), and the usual time between two.
      stamp: 0,
      second: 0,
      newAt: 0,
      interval: 0,
      streamedAt: 0,
      noteTimer: null,
      snapshotTimer: null,
    };
    tile.picture = new Picture(element.querySelector("canvas"), (size, stamp) => shown(tile, size, stamp));
    tile.pause.addEventListener("click", () => togglePause(tile));
    tile.fullscreen.addEventListener("click", () => toggleFullscreen(tile.element));
    tile.snapshot.addEventListener("click", (event) => {
      event.preventDefault();
      snapshot(tile);
    });
    tiles.set(tile.name, tile);
  }
  grid.hidden = false;
  // Tiles of new sizes may want thumbnails, or no longer.
  const arrangement = new Arrangement(grid, header, [...tiles.values()], () => scheduleRestart());

  // The wall's timeline and playback: the cameras in view play back in
  // step over the grid's one connection.
  const wall = new WallPlayer({
    cameras: () => [...tiles.values()].filter((tile) => !tile.element.hidden).map((tile) => tile.name),
    changed: () => scheduleRestart(0),
    onState: () => showWallTime(),
  });

  function showWallTime() {
    for (const tile of tiles.values()) {
      if (wall.playing) showTime(tile, wall.time());
      showState(tile);
    }
  }

  // Pictures

  function shown(tile, size, stamp) {
    if (!tile.element.classList.contains("shown")) tile.element.classList.add("shown");
    if (size) {
      tile.frameWidth = size.width;
      setAspect(tile, size.width / size.height);
    }
    // The capture time of the picture on screen, for whoever checks it.
    tile.element.dataset.timestamp = String(stamp);
    // In playback, the tile shows the wall's time instead (showWallTime).
    if (!wall.playing) showTime(tile, stamp);
  }

  function showTime(tile, stamp) {
    // The time changes once a second, not with every frame: text changed
    // would have the page laid out anew for each.
    const second = Math.floor(stamp);
    if (stamp && second !== tile.second) {
      tile.second = second;
      const date = new Date(second * 1000);
      tile.time.dateTime = date.toISOString();
      tile.time.textContent = date.toLocaleTimeString([], {
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      });
    }
  }

  function frameArrived(tile, jpeg, stamp) {
    // The same frame again is a keepalive: the camera has nothing new. (A
    // playback sought back shows frames older than the one shown.)
    if (stamp && (wall.playing ? stamp === tile.stamp : stamp <= tile.stamp)) return;
    const now = performance.now();
    if (tile.newAt) {
      const gap = now - tile.newAt;
      tile.interval = tile.interval ? 0.8 * tile.interval + 0.2 * gap : gap;
    }
    tile.stamp = stamp;
    tile.newAt = now;
    tile.picture.show(jpeg, stamp);
    if (tile.stalled) setStalled(tile, false);
  }

  function setAspect(tile, aspect) {
    if (Math.abs(aspect - tile.aspect) < 0.01) return;
    tile.aspect = aspect;
    arrangement.soon();
  }

  // The stream of every wanted camera

  const feed = new Feed({
    onFrame(camera, jpeg, stamp) {
      const tile = tiles.get(camera);
      if (tile && !tile.paused) frameArrived(tile, jpeg, stamp);
    },
    // The cameras now count this page among their viewers: say so now
    // rather than at the next poll.
    onFirst: () => pollNow(),
    onEnd() {
      for (const tile of tiles.values()) tile.streamedAt = 0;
      wall.ended();
      scheduleRestart(RETRY_MS);
    },
    onOpen: (response) => wall.opened(response),
  });
  let restartTimer = null;

  function wanted() {
    if (document.hidden) return [];
    return [...tiles.values()]
      .filter((tile) => tile.visible && !tile.paused && !tile.element.hidden)
      .map((tile) => tile.name);
  }

  // A tile gets its camera's thumbnails only where they save much: when the
  // camera's frames are at least three times as wide as the tile's pixels.
  // Thumbnails cost camserve a decode and an encode per frame; full frames
  // cost it nothing but bandwidth. "?size=full" or "?size=thumbnail" on the
  // page's address decides for every tile.
  const forcedSize = query.get("size");

  function thumbnail(tile) {
    if (forcedSize) return forcedSize === "thumbnail";
    if (document.fullscreenElement) return false;
    const pixels = tile.element.clientWidth * devicePixelRatio;
    return Boolean(tile.frameWidth) && tile.frameWidth >= 3 * pixels;
  }

  // At once when nothing streams yet (the page has just opened); after a
  // moment otherwise, so that scrolling past tiles, or resizing, asks for
  // one stream.
  function scheduleRestart(delay = feed.open ? 150 : 0) {
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
    const playback = wall.stream();
    if (!feed.want(names, playback ? [] : small, playback)) return;
    // A playback's frames begin anew: an earlier one is no keepalive.
    if (playback) for (const tile of tiles.values()) tile.stamp = 0;
    const now = performance.now();
    for (const tile of tiles.values()) tile.streamedAt = names.includes(tile.name) ? now : 0;
    checkStalls();
  }

  // A tile that only touches the window's edge (the first of the next
  // screenful, in the 2x2 to 4x4 layouts) is out of sight.
  const sight = { rootMargin: "-1px" };
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const tile = tiles.get(entry.target.dataset.camera);
      if (tile) tile.visible = entry.isIntersecting;
    }
    scheduleRestart();
  }, sight);
  for (const tile of tiles.values()) observer.observe(tile.element);
  document.addEventListener("visibilitychange", () => scheduleRestart(0));
  document.addEventListener("fullscreenchange", () => scheduleRestart(0));

  // Snapshot mode, for browsers that cannot read a stream: each visible,
  // unpaused tile asks for a fresh snapshot once the last one has come.

  async function refreshSnapshots(tile) {
    clearTimeout(tile.snapshotTimer);
    if (!tile.visible || tile.paused || tile.element.hidden || document.hidden) return;
    try {
      const address = `cameras/${encodeURIComponent(tile.name)}/snapshot.jpg?t=${Date.now()}`;
      const response = await fetch(address, { cache: "no-store" });
      if (response.ok) {
        const stamp = parseFloat(response.headers.get("x-timestamp")) || 0;
        frameArrived(tile, new Uint8Array(await response.arrayBuffer()), stamp);
      }
    } finally {
      tile.snapshotTimer = setTimeout(() => refreshSnapshots(tile), SNAPSHOT_MS);
    }
  }

  // Stalls: a streamed, running camera whose frames stopped coming

  function checkStalls() {
    const now = performance.now();
    for (const tile of tiles.values()) {
      const since = Math.max(tile.newAt, tile.streamedAt);
      const limit = Math.max(STALL_LEAST_MS, STALL_INTERVALS * tile.interval);
      const stalled =
        !snapshotMode &&
        !wall.playing &&
        tile.streamedAt > 0 &&
        tile.state === "running" &&
        now - since > limit;
      if (stalled !== tile.stalled) setStalled(tile, stalled);
    }
  }

  function setStalled(tile, stalled) {
    tile.stalled = stalled;
    if (stalled) tile.element.dataset.stalled = "";
    else delete tile.element.dataset.stalled;
    showState(tile);
    showTroubles();
  }

  setInterval(checkStalls, 500);

  // What each tile and the header say

  function showState(tile) {
    tile.element.dataset.state = tile.state;
    setText(tile.badge, wall.playing
      ? wall.paused
        ? "paused"
        : "playback"
      : tile.stalled
        ? "stalled"
        : STATES[tile.state] || tile.state);
    let problem = "";
    if (tile.paused) problem = "Paused";
    else if (wall.playing) problem = wall.problem(tile.name);
    else if (tile.state === "failed") problem = `No picture: ${tile.lastError}`;
    else if (tile.stalled) problem = `No new picture since ${tile.time.textContent || "it started"}`;
    setText(tile.overlay, problem);
  }

  // Text set only when it changes, as the wall's time shows it four times
  // a second.
  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  function showTroubles() {
    const all = [...tiles.values()];
    const failed = all.filter((tile) => tile.state === "failed");
    const stalled = all.filter((tile) => tile.stalled && tile.state !== "failed");
    const live = all.filter((tile) => tile.state === "running" && !tile.stalled).length;
    summary.textContent = `${all.length} camera${all.length === 1 ? "" : "s"}, ${live} live`;
    const spans = [];
    for (const [kind, some] of [["failed", failed], ["stalled", stalled]]) {
      if (!some.length) continue;
      const span = document.createElement("span");
      span.className = "trouble";
      span.dataset.kind = kind;
      span.append(`${kind}: `);
      some.forEach((tile, index) => {
        const link = document.createElement("a");
        link.href = tile.link.getAttribute("href");
        link.textContent = tile.name;
        span.append(...(index ? [", ", link] : [link]));
      });
      spans.push(span);
    }
    troubles.replaceChildren(...spans);
  }

  function say(tile, text) {
    clearTimeout(tile.noteTimer);
    tile.note.textContent = text;
    if (text) tile.noteTimer = setTimeout(() => say(tile, ""), NOTE_MS);
  }

  // Controls

  function togglePause(tile) {
    tile.paused = !tile.paused;
    tile.pause.setAttribute("aria-pressed", String(tile.paused));
    tile.pause.setAttribute("aria-label", `${tile.paused ? "resume" : "pause"} ${tile.name}`);
    tile.pause.title = tile.paused ? "Resume" : "Pause";
    showState(tile);
    scheduleRestart(0);
  }

  function snapshot(tile) {
    if (tile.state === "failed") {
      say(tile, `No snapshot: ${tile.name} has failed (${tile.lastError})`);
      return;
    }
    saveSnapshot(tile.snapshot, (text) => say(tile, text));
  }

  // State, viewers and frame rate

  let pollTimer = null;
  let polls = 0;

  async function poll() {
    clearTimeout(pollTimer);
    try {
      const response = await fetch("api/cameras", { cache: "no-store" });
      if (!response.ok) throw new Error(`status ${response.status}`);
      const cameras = await response.json();
      connection.textContent = "";
      const names = cameras.map((camera) => camera.name);
      if (names.join("\n") !== [...tiles.keys()].join("\n")) location.reload();
      for (const camera of cameras) {
        const tile = tiles.get(camera.name);
        if (!tile) continue;
        if (camera.width && camera.height && !tile.element.classList.contains("shown")) {
          tile.frameWidth = camera.width;
          setAspect(tile, camera.width / camera.height);
        }
        tile.group = camera.group ?? null;
        tile.state = camera.state;
        tile.lastError = camera.last_error;
        tile.stats.textContent = `${camera.viewers} watching · ${camera.fps.toFixed(1)} fps`;
        showState(tile);
      }
      arrangement.showGroups();
      showTroubles();
      wall.reported(cameras);
    } catch (error) {
      connection.textContent = "camserve is not answering; retrying";
    }
    // Soon after the page opens, when cameras have just started, then at
    // the usual pace.
    pollTimer = setTimeout(poll, polls++ < 2 ? POLL_MS / 3 : POLL_MS);
  }

  function pollNow() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, 0);
  }

  arrangement.showGroups();
  arrangement.arrange();
  poll();
})();
