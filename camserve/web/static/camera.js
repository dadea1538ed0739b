// One camera's page: the live picture as large as the window allows, its
// state every few seconds, and the controls. A camera that fails shows its
// reason where the picture would be, and the page keeps asking for the
// stream, so it comes back on its own. The keyboard: F for full screen,
// Escape back to every camera. While the timeline (timeline.js) plays a
// recording in the picture, the page leaves the picture to it.
"use strict";

(() => {
  const { saveSnapshot } = window.camserve;
  const POLL_MS = 3000;
  const RETRY_MS = 3000;
  const NOTE_MS = 6000;
  const query = new URLSearchParams(location.search);
  const snapshotMode = query.get("mode") === "snapshot";
  // A page opened with an API token asks for everything with it.
  const token = query.has("token") ? `token=${encodeURIComponent(query.get("token"))}` : "";
  const picture = document.getElementById("picture");
  const img = document.getElementById("stream");
  const problem = document.getElementById("problem");
  const state = document.getElementById("state");
  const resolution = document.getElementById("resolution");
  const stats = document.getElementById("stats");
  const pause = document.getElementById("pause");
  const fullscreen = document.getElementById("fullscreen");
  const snapshot = document.getElementById("snapshot");
  const note = document.getElementById("note");
  const up = document.querySelector("a.up");
  let paused = false;
  let health = null;
  let noteTimer = null;
  let counted = false;
  let broken = false;
  let retryTimer = null;
  let snapshotTimer = null;
  let replaying = false;

  function streamUrl() {
    return `video_feed?advance_headers=1&t=${Date.now()}${token && "&" + token}`;
  }

  function snapshotUrl() {
    return `snapshot.jpg?t=${Date.now()}${token && "&" + token}`;
  }

  function watch() {
    clearTimeout(retryTimer);
    clearTimeout(snapshotTimer);
    if (paused || replaying) return;
    broken = false;
    img.src = snapshotMode ? snapshotUrl() : streamUrl();
  }

  img.addEventListener("load", () => {
    if (!counted) {
      // The camera now counts this page among its viewers: say so now
      // rather than at the next poll.
      counted = true;
      poll();
    }
    broken = false;
    if (img.naturalWidth) resolution.textContent = `${img.naturalWidth}×${img.naturalHeight}`;
    if (snapshotMode && !paused && !replaying) {
      snapshotTimer = setTimeout(() => { img.src = snapshotUrl(); }, 1000);
    }
  });

  img.addEventListener("error", () => {
    // The stream was refused (503 with a reason) or broke: say why, and try
    // again, which also asks camserve to retry the camera.
    if (paused || replaying) return;
    broken = true;
    poll();
    clearTimeout(retryTimer);
    retryTimer = setTimeout(watch, RETRY_MS);
  });

  function showState(answer) {
    health = answer;
    picture.dataset.state = health.state;
    state.dataset.state = health.state;
    state.textContent = health.state === "running" ? "live" : health.state;
    stats.textContent = `${health.viewers} watching · ${health.fps.toFixed(1)} fps`;
    if (health.state === "failed") {
      problem.textContent = `No picture: ${health.last_error}`;
      if (!img.naturalWidth) resolution.textContent = "no picture";
    } else {
      problem.textContent = paused ? "Paused" : "";
      if (broken && !paused) watch();
    }
  }

  async function poll() {
    try {
      const response = await fetch(token ? `healthz?${token}` : "healthz", { cache: "no-store" });
      showState(await response.json());
    } catch (error) {
      problem.textContent = "camserve is not answering; retrying";
    }
  }

  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    if (paused) {
      // A still of this moment instead of the stream, whose connection is
      // let go so the camera can idle.
      clearTimeout(retryTimer);
      clearTimeout(snapshotTimer);
      img.src = snapshotUrl();
      problem.textContent = "Paused";
    } else {
      problem.textContent = "";
      watch();
    }
  });

  // The picture handed to a recording's playback, and back to live.
  const live = {
    leave() {
      replaying = true;
      clearTimeout(retryTimer);
      clearTimeout(snapshotTimer);
      if (paused) pause.click();
      pause.hidden = true;
      problem.textContent = "";
    },
    back() {
      replaying = false;
      pause.hidden = false;
      watch();
    },
  };
  window.camserve = Object.assign(window.camserve || {}, { live });

  const share = document.getElementById("share");
  if (share) {
    const panel = document.getElementById("share-panel");
    const link = document.getElementById("share-link");
    const expiry = document.getElementById("share-expiry");
    share.addEventListener("click", () => {
      panel.hidden = !panel.hidden;
      share.setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) {
        // On a phone the panel may open below the picture: bring it up.
        panel.scrollIntoView({ block: "nearest" });
        document.getElementById("share-seconds").focus({ preventScroll: true });
      }
    });
    panel.addEventListener("submit", async (event) => {
      event.preventDefault();
      // The camera's name as its page's address has it, decoded.
      const camera = decodeURIComponent(location.pathname.split("/").at(-2));
      const seconds = Number(document.getElementById("share-seconds").value);
      try {
        const response = await fetch("../../api/tokens", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ camera, seconds }),
        });
        const answer = await response.json();
        if (!response.ok) throw new Error(answer.error);
        link.value = new URL(`?token=${encodeURIComponent(answer.token)}`, location.href).href;
        expiry.textContent = `valid until ${new Date(answer.expires * 1000).toLocaleString()}`;
        link.select();
      } catch (error) {
        link.value = "";
        expiry.textContent = `no link: ${error.message}`;
      }
    });
  }

  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else picture.requestFullscreen?.();
  }

  fullscreen.addEventListener("click", toggleFullscreen);

  function say(text) {
    clearTimeout(noteTimer);
    note.textContent = text;
    if (text) noteTimer = setTimeout(() => say(""), NOTE_MS);
  }

  snapshot.addEventListener("click", (event) => {
    event.preventDefault();
    if (health && health.state === "failed") {
      say(`No snapshot: the camera has failed (${health.last_error})`);
    } else {
      saveSnapshot(snapshot, say);
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest?.("select, input, textarea")) return;
    if (event.key === "f" || event.key === "F") {
      event.preventDefault();
      toggleFullscreen();
    } else if (event.key === "Escape") {
      if (document.fullscreenElement) document.exitFullscreen();
      else if (up) location.href = up.href;
    }
  });

  if (snapshotMode) watch();
  setInterval(poll, POLL_MS);
  poll();
})();
