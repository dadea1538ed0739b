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
    // was not replaced; onOpen(response), if given, with each connection's
    // response, before its parts.
    constructor({ onFrame, onFirst, onEnd, onOpen }) {
      this.onFrame = onFrame;
      this.onFirst = onFirst;
      this.onEnd = onEnd;
      this.onOpen = onOpen || (() => {});
      this.key = "";
      this.controller = null;
    }

    // Whether a connection is open (or opening).
    get open() {
      return this.controller !== null;
    }

    // Be fed the frames of the cameras `names`, and of those also in `small`
    // their thumbnails; nothing for no names. A change of either opens a new
    // connection; the same ones keep the connection there is. With
    // `playback` ({key, query()}), their recordings played back instead:
    // query() is what the address asks for besides the cameras, read as a
    // connection opens; a new key opens a new one.
    want(names, small, playback = null) {
      const list = (some) => some.map(encodeURIComponent).join(",");
      const cameras = `streams?cameras=${list(names)}`;
      const live = `${cameras}&thumbnails=${list(small)}`;
      const key = !names.length ? "" : playback ? `${cameras}#${playback.key}` : live;
      if (key === this.key && this.controller) return false;
      if (this.controller) this.controller.abort();
      this.controller = null;
      this.key = key;
      if (!names.length) return true;
      const controller = new AbortController();
      this.controller = controller;
      const address = playback ? cameras + playback.query() : live;
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
      if (this.controller === controller) this.onOpen(response);
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
