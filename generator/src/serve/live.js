// Live reload for `generator serve`. Waits for the next build; reloads after a
// good one and shows the error after a bad one, keeping the page as it was.
(() => {
  const box = document.createElement("div");
  box.setAttribute("role", "alert");
  box.style.cssText =
    "position:fixed;inset:auto 0 0 0;max-height:50vh;overflow:auto;margin:0;padding:1rem;" +
    "background:#5c0011;color:#fff;font:14px/1.4 monospace;white-space:pre-wrap;z-index:2147483647";
  const show = (error) => {
    if (error) {
      box.textContent = "Build failed — still showing the last good site.\n\n" + error;
      if (!box.isConnected) document.body.appendChild(box);
    } else {
      box.remove();
    }
  };
  let seen = null;
  const poll = async () => {
    for (;;) {
      try {
        const url = "/__shopfront/poll" + (seen === null ? "" : "?since=" + seen);
        const res = await fetch(url, { cache: "no-store" });
        const state = await res.json();
        if (seen !== null && state.generation !== seen && !state.error) {
          location.reload();
          return;
        }
        seen = state.generation;
        show(state.error);
      } catch {
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  poll();
})();
