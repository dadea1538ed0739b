// The wall's timeline and playback: on a server that records, the recorded
// stretches of the cameras in view (a row each), zoomable like the camera
// page's; a click or drag plays every camera in view back in step from
// that time, over the grid's one connection ("streams?start="), and pause,
// step, speed and LIVE control the whole wall. The grid (grid.js) asks
// this which stream to read, and shows on each tile the wall's time.
"use strict";

(() => {
  const { TimeScale } = window.camserve;
  const REFRESH_MS = 5000;
  const STATE_MS = 1000;

  const now = () => Date.now() / 1000;
  const byId = (id) => document.getElementById(id);

  class WallPlayer {
    // cameras(): the names of the cameras in view; changed(): the stream
    // to read changed (a playback began or ended); onState(): the wall's
    // time or the cameras' state changed, for the tiles.
    constructor({ cameras, changed, onState }) {
      this.section = byId("wall-timeline");
      this.cameras = cameras;
      this.changed = changed;
      this.onState = onState;
      this.badge = byId("wall-badge");
      this.shownTime = byId("wall-time");
      this.spanLabel = byId("wall-span");
      this.play = byId("wall-play");
      this.stepBack = byId("wall-step-back");
      this.stepForward = byId("wall-step-forward");
      this.speed = byId("wall-speed");
      this.liveButton = byId("wall-live");
      this.playing = false; // whether the wall plays recordings back
      this.generation = 0; // playbacks begun
      this.session = null;
      this.paused = false;
      // The wall's time as last known, and when (on the page's clock).
      this.known = { time: 0, at: 0, speed: 1 };
      this.frames = new Map(); // whether each camera has a frame at the time
      this.left = new Set(); // cameras not recorded, left out
      this.recorded = false;
      this.scale = new TimeScale(byId("wall-canvas"), {
        head: () => (this.playing ? this.time() : now()),
        headColor: () => (this.playing ? "#8ab4f8" : "#ea4335"),
        onSeek: (when) => this.seek(when),
        onChange: () => {
          this.draw();
          this.refresh();
        },
      });
      const middle = () => (this.playing ? this.time() : this.scale.right() - this.scale.span / 2);
      byId("wall-zoom-in").addEventListener("click", () => this.scale.zoom(0.5, middle()));
      byId("wall-zoom-out").addEventListener("click", () => this.scale.zoom(2, middle()));
      this.play.addEventListener("click", () => this.control({ action: this.paused ? "resume" : "pause" }));
      this.stepBack.addEventListener("click", () => this.control({ action: "step", frames: -1 }));
      this.stepForward.addEventListener("click", () => this.control({ action: "step", frames: 1 }));
      this.speed.addEventListener("change", () => {
        if (this.session) this.control({ action: "speed", speed: Number(this.speed.value) });
      });
      this.liveButton.addEventListener("click", () => this.backToLive());
      addEventListener("resize", () => this.draw());
      setInterval(() => this.refresh(), REFRESH_MS);
      setInterval(() => this.tick(), 250);
      setInterval(() => this.poll(), STATE_MS);
      this.showControls();
    }

    // The server records: the cameras' reports from the API say whether
    // any camera records or has recordings, which shows the timeline.
    reported(cameras) {
      const recorded = cameras.some(
        (camera) => camera.recording && (camera.recording.mode !== "off" || camera.recording.bytes > 0),
      );
      if (recorded === this.recorded) return;
      this.recorded = recorded;
      this.section.hidden = !recorded;
      if (recorded) this.refresh();
    }

    // The wall's time now, as the page reckons it between states.
    time() {
      const { time, at, speed } = this.known;
      return this.paused ? time : time + ((performance.now() - at) / 1000) * speed;
    }

    // What the grid's stream plays back, for Feed.want: null for live.
    // Its key changes with each playback begun, not as its time runs, so
    // that the grid's other reasons to ask for its stream again (tiles
    // scrolled into view, another group) keep the connection there is, or
    // play the cameras then in view from the time reached.
    stream() {
      if (!this.playing) return null;
      return {
        key: String(this.generation),
        query: () => `&start=${this.time().toFixed(6)}&speed=${this.speed.value}`,
      };
    }

    // A playback's stream was opened: its session, or a refusal.
    async opened(response) {
      if (!this.playing) return;
      if (!response.ok) {
        // After the grid has heard that the stream ended, so that it asks
        // for the live one at once rather than after its usual wait.
        setTimeout(() => {
          this.backToLive();
          this.shownTime.textContent = response.status === 404 ? "Nothing was recorded then or since" : "";
        }, 0);
        return;
      }
      this.session = response.headers.get("x-playback-session");
      // A stream asked for again (other cameras in view) begins playing:
      // a wall that was paused stays paused.
      if (this.paused) this.control({ action: "pause" });
      else this.poll();
    }

    seek(when) {
      if (this.session) {
        this.control({ action: "seek", time: when });
        return;
      }
      this.playing = true;
      this.paused = false;
      this.generation += 1;
      this.known = { time: when, at: performance.now(), speed: Number(this.speed.value) };
      this.frames.clear();
      this.showState();
      this.changed();
    }

    backToLive() {
      const was = this.playing;
      this.playing = false;
      this.session = null;
      this.paused = false;
      this.frames.clear();
      this.left.clear();
      this.showState();
      if (was) this.changed();
    }

    // The stream ended: the grid asks for it again, from the time reached.
    ended() {
      this.session = null;
    }

    async control(asked) {
      if (!this.session) return;
      const response = await fetch(`streams/${encodeURIComponent(this.session)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(asked),
      });
      const answer = await response.json();
      if (response.status === 404 && answer.error === "no such playback") {
        this.session = null;
        return;
      }
      if (response.ok) this.take(answer);
    }

    async poll() {
      if (!this.session) return;
      const session = this.session;
      try {
        const response = await fetch(`streams/${encodeURIComponent(session)}`, { cache: "no-store" });
        if (response.ok && session === this.session) this.take(await response.json());
      } catch (error) {
        // The next poll asks again.
      }
    }

    take(state) {
      if (state.live) {
        // The wall caught up with now: every camera goes live.
        this.backToLive();
        return;
      }
      this.paused = state.paused;
      this.known = { time: state.time, at: performance.now(), speed: state.speed };
      this.frames = new Map(state.cameras.map((camera) => [camera.camera, camera.frame]));
      this.left = new Set(state.not_recorded);
      this.showState();
    }

    // What the wall says of camera `name` in playback: "" if it shows its
    // frame at the wall's time.
    problem(name) {
      if (!this.playing) return "";
      if (this.left.has(name)) return "Not recorded";
      if (this.frames.get(name) === false) return "Nothing recorded at this time";
      return "";
    }

    tick() {
      if (this.playing) {
        this.shownTime.textContent = new Date(this.time() * 1000).toLocaleString();
        this.onState();
      }
      this.draw();
    }

    showState() {
      this.showControls();
      this.onState();
      this.draw();
    }

    showControls() {
      const playing = this.playing;
      this.badge.textContent = !playing ? "LIVE" : this.paused ? "PAUSED" : "PLAYBACK";
      if (playing) delete this.badge.dataset.live;
      else this.badge.dataset.live = "";
      this.section.dataset.playing = String(playing);
      for (const button of [this.play, this.stepBack, this.stepForward, this.liveButton]) button.hidden = !playing;
      this.stepBack.disabled = !this.paused;
      this.stepForward.disabled = !this.paused;
      this.play.textContent = this.paused ? "Play" : "Pause";
      this.play.setAttribute("aria-pressed", String(this.paused));
      this.shownTime.textContent = playing ? new Date(this.time() * 1000).toLocaleString() : "";
    }

    draw() {
      if (this.section.hidden) return;
      this.scale.draw();
      this.spanLabel.textContent = this.scale.describe();
    }

    // Each camera in view's recorded stretches, a row each.
    async refresh() {
      if (!this.recorded) return;
      const scale = this.scale;
      const from = scale.left() - scale.span;
      const to = scale.right() + scale.span;
      const names = this.cameras();
      const rows = await Promise.all(
        names.map(async (name) => {
          try {
            const address = `api/cameras/${encodeURIComponent(name)}/recordings?start=${from}&end=${to}`;
            const response = await fetch(address, { cache: "no-store" });
            return response.ok ? await response.json() : [];
          } catch (error) {
            return [];
          }
        }),
      );
      scale.rows = rows;
      this.draw();
    }
  }

  window.camserve = Object.assign(window.camserve || {}, { WallPlayer });
})();
