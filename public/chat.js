// Loaded by .chainlit/config.toml: [UI] custom_js = "/public/chat.js"
// chainlit >= 2.11 opens the element side panel by itself (with ALL side elements of
// the conversation) whenever a message with display="side" elements arrives or a
// thread is resumed (Chainlit issues #2979, #2932; PR #2982). Citations should open on
// click only: close the panel when it appears without a click on a reference in the
// last 1.5 s, or when it shows more than one element. Remove once chainlit ships
// click-to-open, and re-check on every upgrade (it relies on 2.12's ids and classes).
(function () {
  var lastRefClick = 0;
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t && t.closest && t.closest("a.element-link")) lastRefClick = Date.now();
  }, true);
  var wasOpen = false;
  function check() {
    var title = document.getElementById("side-view-title");
    var content = document.getElementById("side-view-content");
    var open = !!(title && content);
    if (open) {
      var recentClick = Date.now() - lastRefClick < 1500;
      var multi = content.children.length > 1;
      if ((!wasOpen && !recentClick) || multi) {
        var btn = title.querySelector("button");
        if (btn) { btn.click(); open = false; }
      }
    }
    wasOpen = open;
  }
  var scheduled = false;
  new MutationObserver(function () {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(function () { scheduled = false; check(); });
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
// An unsupported sentence is a link to #unsupported (for its style and tooltip): it
// must not open anything when clicked.
document.addEventListener("click", function (ev) {
  var a = ev.target && ev.target.closest && ev.target.closest('a[href="#unsupported"]');
  if (a) { ev.preventDefault(); ev.stopPropagation(); }
}, true);
