// Reads a multipart stream whose parts each carry a Content-Length, as
// camserve's "streams" sends them, and hands over each part whole: its
// headers (names in lower case) and its body.
"use strict";

(() => {
  const CR = 13;
  const LF = 10;

  // Where the blank line that ends a part's headers starts, or -1. What
  // comes before the first header line (the boundary) is part of the head
  // and ignored.
  function headEnd(bytes) {
    for (let at = bytes.indexOf(CR); at >= 0 && at + 3 < bytes.length; at = bytes.indexOf(CR, at + 1)) {
      if (bytes[at + 1] === LF && bytes[at + 2] === CR && bytes[at + 3] === LF) return at;
    }
    return -1;
  }

  function parseHead(bytes) {
    const headers = {};
    for (const line of new TextDecoder("latin1").decode(bytes).split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return headers;
  }

  class PartReader {
    constructor(onPart) {
      this.onPart = onPart;
      // What has arrived and is not yet handed over, as it arrived: joined
      // only once a part's body is whole, so each byte is copied once.
      this.chunks = [];
      this.size = 0;
      this.headers = null;
      this.length = 0;
    }

    push(chunk) {
      this.chunks.push(chunk);
      this.size += chunk.length;
      for (;;) {
        if (this.headers === null) {
          const bytes = this.joined();
          const end = headEnd(bytes);
          if (end < 0) return;
          this.headers = parseHead(bytes.subarray(0, end));
          this.length = parseInt(this.headers["content-length"], 10);
          if (!(this.length >= 0)) throw new Error("a part without Content-Length");
          this.keep(bytes.subarray(end + 4));
        }
        if (this.size < this.length) return;
        const bytes = this.joined();
        const headers = this.headers;
        this.headers = null;
        this.keep(bytes.subarray(this.length));
        this.onPart(headers, bytes.subarray(0, this.length));
      }
    }

    joined() {
      if (this.chunks.length !== 1) {
        const joined = new Uint8Array(this.size);
        let at = 0;
        for (const chunk of this.chunks) {
          joined.set(chunk, at);
          at += chunk.length;
        }
        this.chunks = [joined];
      }
      return this.chunks[0] || new Uint8Array(0);
    }

    keep(rest) {
      this.chunks = rest.length ? [rest] : [];
      this.size = rest.length;
    }
  }

  window.camserve = Object.assign(window.camserve || {}, { PartReader });
})();
