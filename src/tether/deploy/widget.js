/* Tether feedback widget: thumbs and an optional correction, posted to POST /v1/feedback.
 *
 *   <div data-tether-feedback data-trace="TRACE_ID" data-token="TOKEN"></div>
 *   <script src="https://tether.example/v1/widget.js" data-key="tpk_..." defer></script>
 *
 * TOKEN comes from POST /v1/events?feedback_tokens=true when the application logs the generation. The key is a
 * publishable one (tether keys create --publishable --origin https://your.site): it can post feedback only.
 * Elements added later: TetherFeedback.mount(element). No HTML is built from strings: text only.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var key = script.getAttribute("data-key");
  var endpoint = (script.getAttribute("data-endpoint") || new URL(script.src).origin).replace(/\/+$/, "");

  function clickId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function mount(root) {
    if (root.getAttribute("data-tether-mounted")) return;
    root.setAttribute("data-tether-mounted", "1");
    var trace = root.getAttribute("data-trace"), token = root.getAttribute("data-token");
    var box = el("div", {"class": "tether-feedback", role: "group", "aria-label": "Feedback on this answer"});
    // words, not emoji: a page's fonts may have no emoji glyphs
    var up = el("button", {type: "button", "aria-label": "Helpful", "data-value": "1"}, "Yes");
    var down = el("button", {type: "button", "aria-label": "Not helpful", "data-value": "-1"}, "No");
    var form = el("div", {hidden: "hidden"});
    var label = el("label", {}, "What should it have said? (optional) ");
    var text = el("textarea", {rows: "3", maxlength: "20000", name: "correction"});
    var send = el("button", {type: "button"}, "Send");
    var status = el("span", {role: "status", "aria-live": "polite"});
    // spacing through the CSSOM, which a page's Content-Security-Policy allows (style attributes it may not)
    [up, down, send, status].forEach(function (n) { n.style.marginLeft = "0.4em"; });
    form.style.marginTop = "0.4em";
    text.style.display = "block";
    text.style.width = "100%";
    text.style.maxWidth = "32em";
    label.appendChild(text);
    form.appendChild(label);
    form.appendChild(send);
    box.appendChild(el("span", {}, "Was this helpful? "));
    box.appendChild(up);
    box.appendChild(down);
    box.appendChild(form);
    box.appendChild(status);
    root.appendChild(box);

    function post(value, correction) {
      up.disabled = down.disabled = send.disabled = true;
      status.textContent = "Sending\u2026";
      var body = {trace_id: trace, token: token, value: value, click_id: clickId()};
      if (correction) body.correction = correction;
      fetch(endpoint + "/v1/feedback?key=" + encodeURIComponent(key), {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body), mode: "cors",
      }).then(function (r) {
        if (r.ok) {
          form.hidden = true;
          status.textContent = "Thanks for your feedback.";
          return;
        }
        return r.json().catch(function () { return {}; }).then(function (j) {
          up.disabled = down.disabled = send.disabled = false;
          status.textContent = "Could not send feedback (" + r.status + (j.detail && typeof j.detail === "string"
            ? ": " + j.detail : "") + ").";
        });
      }, function () {
        up.disabled = down.disabled = send.disabled = false;
        status.textContent = "Could not reach the feedback service.";
      });
    }

    up.addEventListener("click", function () { post(1, null); });
    down.addEventListener("click", function () {
      form.hidden = false;
      down.setAttribute("aria-pressed", "true");
      text.focus();
    });
    send.addEventListener("click", function () { post(-1, text.value.trim() || null); });
  }

  function scan() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-tether-feedback]"), mount);
  }

  window.TetherFeedback = {mount: mount, scan: scan};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
})();
