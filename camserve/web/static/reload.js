// An admin's Reload config button: it reads the config file again (POST
// api/reload) and says what that changed, or the file's mistake. When
// cameras came or went, the page is made anew for the cameras there are now,
// and says again what the reload did.
"use strict";

(() => {
  const KEPT = "camserve.reloaded";
  const reload = document.getElementById("reload");
  const reloaded = document.getElementById("reloaded");
  if (!reload) return;

  function describe(answer) {
    const said = [];
    for (const key of ["added", "removed", "restarted"]) {
      if (answer[key].length) said.push(`${key} ${answer[key].join(", ")}`);
    }
    if (answer.users.length) said.push(`logins changed for ${answer.users.join(", ")}`);
    if (answer.unchanged.length) said.push(`${answer.unchanged.length} unchanged`);
    return `Reloaded: ${said.join("; ") || "no cameras"}`;
  }

  reload.hidden = false;
  reloaded.textContent = sessionStorage.getItem(KEPT) || "";
  sessionStorage.removeItem(KEPT);
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
    reloaded.textContent = ok ? describe(answer) : `Not reloaded: ${answer.error}`;
    if (ok && (answer.added.length || answer.removed.length)) {
      sessionStorage.setItem(KEPT, reloaded.textContent);
      location.reload();
    }
  });
})();
