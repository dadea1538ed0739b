// The wall of cameras. Every visible, unpaused tile's pictures come over one
// connection ("streams", each part naming its camera), so a browser's six
// connections to a host are enough for any number of cameras. Tiles that are
// off screen, paused, filtered out or in a hidden tab are left out of that
// stream, so their cameras can go idle. State, viewers and frame rate come
// from the API every few seconds; whether a camera has stalled, the page sees
// for itself from the frames it gets.
"use strict";

(() => {
  const { PartReader, Picture, layout, saveSnapshot } = window.camserve;
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
  const RELOADED_KEY = "camserve.reloaded";
  const query = new URLSearchParams(location.search);
  const snapshotMode = query.get("mode") === "snapshot";
  const grid = document.getElementById("grid");
  const header = document.querySelector("body > .bar");
  const summary = document.getElementById("summary");
  const troubles = document.getElementById("troubles");
  const connection = document.getElementById("connection");
  const layoutChoice = document.getElementById("layout");
  const groupChoice = document.getElementById("group");
  const tiles = new Map();

  // Choices the browser keeps (localStorage), which a browser that keeps
  // nothing (storage refused) does without.
  function kept(key, fallback) {
    try {
      return localStorage.getItem(key) ?? fallback;
    } catch (error) {
      return fallback;
    }
  }

  function keep(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch (error) {
      // Not kept, but still applied.
    }
  }

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
      newAt: 0,
      interval: 0,
      streamedAt: 0,
      noteTimer: null,
      snapshotTimer: null,
    };
    tile.picture = new Picture(element.querySelector("canvas"), (size, stamp) => shown(tile, size, stamp));
    tile.pause.addEventListener("click", () => togglePause(tile));
    tile.fullscreen.addEventListener("click", () => toggleFullscreen(tile));
    tile.snapshot.addEventListener("click", (event) => {
      event.preventDefault();
      snapshot(tile);
    });
    tiles.set(tile.name, tile);
  }
  grid.hidden = false;
  document.getElementById("layout-choice").hidden = false;

  // Pictures

  function shown(tile, size, stamp) {
    tile.element.classList.add("shown");
    if (size) {
      tile.frameWidth = size.width;
      setAspect(tile, size.width / size.height);
    }
    if (stamp) {
      const date = new Date(stamp * 1000);
      tile.time.dateTime = date.toISOString();
      tile.time.textContent = date.toLocaleTimeString([], {
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      });
    }
  }

  function frameArrived(tile, jpeg, stamp) {
    // The same frame again is a keepalive: the camera has nothing new.
    if (stamp && stamp <= tile.stamp) return;
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

  // The layout

  let choice = kept("camserve.layout", "auto");
  if (![...layoutChoice.options].some((option) => option.value === choice)) choice = "auto";
  layoutChoice.value = choice;
  layoutChoice.addEventListener("change", () => {
    choice = layoutChoice.value;
    keep("camserve.layout", choice);
    arrange();
  });

  function setAspect(tile, aspect) {
    if (Math.abs(aspect - tile.aspect) < 0.01) return;
    tile.aspect = aspect;
    arrangeSoon();
  }

  function shownTiles() {
    return [...tiles.values()].filter((tile) => !tile.element.hidden);
  }

  function arrange() {
    const style = getComputedStyle(grid);
    const gap = parseFloat(style.getPropertyValue("--gap")) || 0;
    const width = grid.clientWidth;
    const top = grid.getBoundingClientRect().top + scrollY;
    const room = document.documentElement.clientHeight - top - gap;
    const some = shownTiles();
    const placed = layout(some.map((tile) => tile.aspect), width, Math.max(room, 100), choice, gap);
    grid.style.height = `${placed.height}px`;
    some.forEach((tile, index) => {
      const box = placed.boxes[index];
      for (const side of ["left", "top", "width", "height"]) tile.element.style[side] = `${box[side]}px`;
    });
    // Tiles of new sizes may want thumbnails, or no longer.
    scheduleRestart(stream ? 150 : 0);
  }

  let arranging = false;

  function arrangeSoon() {
    if (arranging) return;
    arranging = true;
    requestAnimationFrame(() => {
      arranging = false;
      arrange();
    });
  }

  addEventListener("resize", arrangeSoon);
  // The header grows when it names more troubles, or wraps on a narrow
  // window, which leaves the wall less room.
  new ResizeObserver(arrangeSoon).observe(header);

  // Groups

  let group = kept("camserve.group", "");

  // The group choice lists the groups of the cameras there are, in their
  // order, and shows only if there are groups.
  function showGroups() {
    const groups = [...new Set([...tiles.values()].map((tile) => tile.group).filter((name) => name !== null))];
    const known = [...groupChoice.options].slice(1).map((option) => option.value);
    if (groups.join("\n") !== known.join("\n")) {
      groupChoice.replaceChildren(groupChoice.options[0]);
      for (const name of groups) groupChoice.append(new Option(name, name));
    }
    document.getElementById("group-choice").hidden = groups.length === 0;
    if (!groups.includes(group)) group = "";
    groupChoice.value = group;
    filter();
  }

  function filter() {
    let changed = false;
    for (const tile of tiles.values()) {
      const hidden = group !== "" && tile.group !== group;
      if (tile.element.hidden !== hidden) {
        tile.element.hidden = hidden;
        changed = true;
      }
    }
    if (changed) arrange();
  }

  groupChoice.addEventListener("change", () => {
    group = groupChoice.value;
    keep("camserve.group", group);
    filter();
  });

  // The stream of every wanted camera

  let stream = null;
  let streamKey = "";
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
    const address = `streams?cameras=${list(names)}&thumbnails=${list(small)}`;
    const key = names.length ? address : "";
    if (key === streamKey && stream) return;
    if (stream) stream.abort();
    stream = null;
    streamKey = key;
    const now = performance.now();
    for (const tile of tiles.values()) tile.streamedAt = names.includes(tile.name) ? now : 0;
    checkStalls();
    if (!names.length) return;
    const controller = new AbortController();
    stream = controller;
    read(address, controller)
      .catch(() => {})
      .finally(() => {
        if (stream === controller) {
          stream = null;
          for (const tile of tiles.values()) tile.streamedAt = 0;
          scheduleRestart(RETRY_MS);
        }
      });
  }

  async function read(address, controller) {
    const response = await fetch(address, { signal: controller.signal, cache: "no-store" });
    if (!response.ok || !response.body) throw new Error(`status ${response.status}`);
    let first = true;
    const parts = new PartReader((headers, jpeg) => {
      const tile = tiles.get(decodeURIComponent(headers["x-camera"] || ""));
      if (!tile || tile.paused) return;
      frameArrived(tile, jpeg, parseFloat(headers["x-timestamp"]) || 0);
      if (first) {
        // The cameras now count this page among their viewers: say so now
        // rather than at the next poll.
        first = false;
        pollNow();
      }
    });
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parts.push(value);
    }
  }

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const tile = tiles.get(entry.target.dataset.camera);
      if (tile) tile.visible = entry.isIntersecting;
    }
    // At once when nothing streams yet (the page has just opened); after a
    // moment otherwise, so that scrolling past tiles asks for one stream.
    scheduleRestart(stream ? 150 : 0);
    // A tile that only touches the window's edge (the first of the next
    // screenful, in the 2x2 to 4x4 layouts) is out of sight.
  }, { rootMargin: "-1px" });
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
        !snapshotMode && tile.streamedAt > 0 && tile.state === "running" && now - since > limit;
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
    tile.badge.textContent = tile.stalled ? "stalled" : STATES[tile.state] || tile.state;
    let problem = "";
    if (tile.state === "failed") problem = `No picture: ${tile.lastError}`;
    else if (tile.paused) problem = "Paused";
    else if (tile.stalled) problem = `No new picture since ${tile.time.textContent || "it started"}`;
    tile.overlay.textContent = problem;
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
    tile.element.classList.toggle("paused", tile.paused);
    showState(tile);
    scheduleRestart(0);
  }

  function toggleFullscreen(tile) {
    if (document.fullscreenElement) leaveFullscreen();
    else tile.element.requestFullscreen?.();
  }

  // The arrows show one tile full screen after another, each on top of the
  // last: leaving takes them all away.
  async function leaveFullscreen() {
    const shown = focusedTile();
    while (document.fullscreenElement) await document.exitFullscreen();
    // The keyboard goes on from the tile that was shown.
    shown?.link.focus();
  }

  function snapshot(tile) {
    if (tile.state === "failed") {
      say(tile, `No snapshot: ${tile.name} has failed (${tile.lastError})`);
      return;
    }
    saveSnapshot(tile.snapshot, (text) => say(tile, text));
  }

  // The keyboard: arrows move between tiles (and, full screen, show the next
  // one), Enter opens a tile's camera, F shows it full screen, Escape leaves
  // full screen.

  function focusedTile() {
    const element = document.fullscreenElement || document.activeElement;
    return element && element.closest ? tiles.get(element.closest(".tile")?.dataset.camera) : undefined;
  }

  // The tile next to `from` in the direction of the arrow, as the tiles lie
  // on screen: left and right within its row, up and down the nearest row.
  function neighbour(from, key) {
    const box = from.element.getBoundingClientRect();
    const middle = (rect) => [rect.left + rect.width / 2, rect.top + rect.height / 2];
    const [x, y] = middle(box);
    let best = null;
    let bestDistance = Infinity;
    for (const tile of shownTiles()) {
      if (tile === from) continue;
      const other = tile.element.getBoundingClientRect();
      const [otherX, otherY] = middle(other);
      const sameRow = other.top < box.bottom && other.bottom > box.top;
      const beside = { ArrowLeft: otherX < x, ArrowRight: otherX > x }[key];
      const apart = { ArrowUp: other.bottom <= box.top, ArrowDown: other.top >= box.bottom }[key];
      if (beside === undefined ? !apart : !(beside && sameRow)) continue;
      const distance = beside === undefined
        ? 4 * Math.abs(otherY - y) + Math.abs(otherX - x)
        : Math.abs(otherX - x);
      if (distance < bestDistance) {
        best = tile;
        bestDistance = distance;
      }
    }
    return best;
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest?.("select, input, textarea")) return;
    const tile = focusedTile();
    if (event.key.startsWith("Arrow")) {
      const some = shownTiles();
      let next = tile ? neighbour(tile, event.key) : some[0];
      if (tile && document.fullscreenElement) {
        // Full screen, the tiles come one after another, in order.
        const step = event.key === "ArrowLeft" || event.key === "ArrowUp" ? -1 : 1;
        next = some[(some.indexOf(tile) + step + some.length) % some.length];
      }
      if (!next) return;
      event.preventDefault();
      if (document.fullscreenElement) next.element.requestFullscreen?.();
      next.link.focus();
      next.element.scrollIntoView({ block: "nearest" });
    } else if (event.key === "Enter" && tile && !event.target.closest("button, a")) {
      location.href = tile.link.href;
    } else if ((event.key === "f" || event.key === "F") && tile) {
      event.preventDefault();
      toggleFullscreen(tile);
    } else if (event.key === "Escape" && document.fullscreenElement) {
      leaveFullscreen();
    }
  });

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
      showGroups();
      showTroubles();
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

  // Reloading the config file, for an admin

  const reload = document.getElementById("reload");
  const reloaded = document.getElementById("reloaded");

  function describeReload(answer) {
    const said = [];
    for (const key of ["added", "removed", "restarted"]) {
      if (answer[key].length) said.push(`${key} ${answer[key].join(", ")}`);
    }
    if (answer.users.length) said.push(`logins changed for ${answer.users.join(", ")}`);
    if (answer.unchanged.length) said.push(`${answer.unchanged.length} unchanged`);
    return `Reloaded: ${said.join("; ") || "no cameras"}`;
  }

  if (reload) {
    reload.hidden = false;
    reloaded.textContent = sessionStorage.getItem(RELOADED_KEY) || "";
    sessionStorage.removeItem(RELOADED_KEY);
    reload.addEventListener("click", async () => {
      reload.disabled = true;
      reloaded.textContent = "Reloading the config file…";
      let answer = {};
      let ok = false;
      try {
        const response = await fetch("api/reload", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        answer = await response.json();
        ok = response.ok;
      } catch (error) {
        answer = { error: "camserve is not answering" };
      }
      reload.disabled = false;
      reloaded.textContent = ok ? describeReload(answer) : `Not reloaded: ${answer.error}`;
      if (ok && (answer.added.length || answer.removed.length)) {
        // The page is made anew for the cameras there are now, and says
        // again what the reload did.
        sessionStorage.setItem(RELOADED_KEY, reloaded.textContent);
        location.reload();
      }
    });
  }

  showGroups();
  arrange();
  poll();
})();
