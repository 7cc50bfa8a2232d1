// The native page's first script, run before any other: take the URL fragment and clear it
// from the address and the history entry at once, so no later script, navigation or referrer
// can see a code. main.js asks for it once through window.chatframeTakeFragment().
"use strict";
(function () {
  var hash = window.location.hash;
  if (hash || window.location.search) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  Object.defineProperty(window, "chatframeTakeFragment", {
    value: function () {
      var taken = hash;
      hash = "";
      return taken;
    },
  });
})();
