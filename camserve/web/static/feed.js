// The frames of several cameras over one connection ("streams"), each part
// naming its camera (X-Camera) and its capture time (X-Timestamp). Asked for
// anew whenever the cameras wanted change; a connection that ends is told,
// for the page to ask again after a while.
"use strict";

(() => {
  const { PartReader } = window.camserve;

  class Feed {
    // onFrame(camera, jpeg, stamp) for each part; onFirst() once the first
    // part of a connection has come; onEnd() when a connection ends that
    // was not replaced.
    constructor({ onFrame, onFirst, onEnd }) {
      this.onFrame = onFrame;
      this.onFirst = onFirst;
      this.onEnd = onEnd;
      this.key = "";
      this.controller = null;
    }

    // Whether a connection is open (or opening).
    get open() {
      return this.controller !== null;
    }

    // Be fed the frames of the cameras `names`, and of those also in `small`
    // their thumbnails; nothing for no names. A change of either opens a new
    // connection; the same ones keep the connection there is.
    want(names, small) {
      const list = (some) => some.map(encodeURIComponent).join(",");
      const address = `streams?cameras=${list(names)}&thumbnails=${list(small)}`;
      const key = names.length ? address : "";
      if (key === this.key && this.controller) return false;
      if (this.controller) this.controller.abort();
      this.controller = null;
      this.key = key;
      if (!names.length) return true;
      const controller = new AbortController();
      this.controller = controller;
      this.read(address, controller)
        .catch(() => {})
        .finally(() => {
          if (this.controller === controller) {
            this.controller = null;
            this.onEnd();
          }
        });
      return true;
    }

    async read(address, controller) {
      const response = await fetch(address, { signal: controller.signal, cache: "no-store" });
      if (!response.ok || !response.body) throw new Error(`status ${response.status}`);
      let first = true;
      const parts = new PartReader((headers, jpeg) => {
        const camera = decodeURIComponent(headers["x-camera"] || "");
        this.onFrame(camera, jpeg, parseFloat(headers["x-timestamp"]) || 0);
        if (first) {
          first = false;
          this.onFirst();
        }
      });
      const reader = response.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        parts.push(value);
      }
    }
  }

  window.camserve = Object.assign(window.camserve || {}, { Feed });
})();
