// A snapshot saved from a page's Snapshot link, or the reason there is none.
// A camera that has failed or gives no frame answers its snapshot with a
// reason (503), which a plain download link would drop without a word.
"use strict";

(() => {
  // The file name a Content-Disposition header gives, or null.
  function filename(disposition) {
    const match = /filename="([^"]+)"/.exec(disposition || "");
    return match ? match[1] : null;
  }

  // Save the snapshot at link's address; say(text) tells the user how it
  // went: what is happening, why there is no snapshot, or "" once saved.
  async function saveSnapshot(link, say) {
    say("Taking a snapshot…");
    try {
      const response = await fetch(link.href, { cache: "no-store" });
      if (!response.ok) {
        const reason = (await response.text()).trim();
        throw new Error(reason || `camserve answered ${response.status}`);
      }
      const blob = await response.blob();
      const save = document.createElement("a");
      save.href = URL.createObjectURL(blob);
      save.download = filename(response.headers.get("content-disposition")) || "snapshot.jpg";
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(save.href), 60000);
      say("");
    } catch (error) {
      say(`No snapshot: ${error.message}`);
    }
  }

  window.camserve = Object.assign(window.camserve || {}, { saveSnapshot });
})();
