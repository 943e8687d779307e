// The connect page without this file works the same, but a framed page or popup would be redirected
// in place; with it, such a page asks for an "embedded" answer and posts the account id to the app.
(function () {
  document.documentElement.classList.add("js");
  var embedded = window.parent !== window || !!window.opener;
  document.addEventListener("DOMContentLoaded", function () {
    if (embedded) {
      document.querySelectorAll("input[name=embedded]").forEach(function (input) { input.value = "1"; });
    }
    var main = document.getElementById("main");
    var account = main && main.dataset.connected;
    var origin = main && main.dataset.origin;
    if (embedded && account && origin) {  // the target origin is the redirect_uri's: nobody else hears it
      (window.opener || window.parent).postMessage(
        {type: "unified-ticketing.connected", integrated_account_id: account, state: main.dataset.state || null},
        origin);
    }
  });
})();
