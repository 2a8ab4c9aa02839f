// Live character counters in the post editor, counted the way each network counts
// (the server's agency/content/limits.py has the rules and is what submit enforces).
(function () {
  "use strict";
  var URL_RE = /(?:https?:\/\/|www\.)[^\s<>"]+?(?=[.,;:!?)\]]*(?:\s|$))/gi;
  var URL_LENGTH = 23;
  var LIMITS = { x: 280, mastodon: 500, bluesky: 300, linkedin: 3000, instagram: 2200, facebook_page: 63206 };
  var EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;
  var segmenter = window.Intl && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

  function graphemes(text) {
    if (!segmenter) { return Array.from(text); }
    return Array.from(segmenter.segment(text), function (s) { return s.segment; });
  }

  function light(ch) {
    var cp = ch.codePointAt(0);
    return cp <= 4351 || (cp >= 8192 && cp <= 8205) || (cp >= 8208 && cp <= 8223) || (cp >= 8242 && cp <= 8247);
  }

  function xWeight(cluster) {
    var points = Array.from(cluster);
    if (EMOJI.test(cluster) && (points.length > 1 || !light(cluster))) { return 2; }
    return points.reduce(function (sum, ch) { return sum + (light(ch) ? 1 : 2); }, 0);
  }

  function count(network, text) {
    text = text.normalize("NFC");
    if (network === "x") {
      var total = 0, last = 0, match;
      URL_RE.lastIndex = 0;
      while ((match = URL_RE.exec(text)) !== null) {
        graphemes(text.slice(last, match.index)).forEach(function (c) { total += xWeight(c); });
        total += URL_LENGTH;
        last = match.index + match[0].length;
      }
      graphemes(text.slice(last)).forEach(function (c) { total += xWeight(c); });
      return total;
    }
    if (network === "mastodon") {
      text = text.replace(URL_RE, "x".repeat(URL_LENGTH)).replace(/(@[\w.]+)@[\w.-]+\w/g, "$1");
      return graphemes(text).length;
    }
    if (network === "bluesky") { return graphemes(text).length; }
    return text.length;
  }

  function update(form) {
    var base = form.querySelector("[data-base-text]");
    form.querySelectorAll("[data-channel]").forEach(function (box) {
      var network = box.dataset.network;
      var limit = parseInt(box.dataset.limit, 10) || LIMITS[network];
      var variant = box.querySelector("[data-variant]");
      var text = (variant && variant.value.trim()) ? variant.value : (base ? base.value : "");
      var out = box.querySelector("[data-counter]");
      if (!out || !limit) { return; }
      var used = count(network, text);
      out.textContent = used + " / " + limit;
      out.classList.toggle("text-danger", used > limit);
      out.classList.toggle("text-muted", used <= limit);
    });
  }

  document.querySelectorAll("[data-post-editor]").forEach(function (form) {
    form.addEventListener("input", function () { update(form); });
    update(form);
  });
})();
