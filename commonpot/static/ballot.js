// The ballot's live meter: budget spent, points given, projects ticked or ranked.
// The server checks every rule; this only helps while filling in. Without JavaScript
// the page shows the meter as it was when the page was made, and the form still works.
(function () {
  "use strict";
  var form = document.querySelector("form[data-ballot]");
  if (!form) return;
  var meter = form.querySelector(".ballot-meter");
  if (!meter) return;
  var kind = form.getAttribute("data-ballot");
  var max = parseInt(meter.getAttribute("data-max"), 10) || 0;
  var progress = meter.querySelector("progress");
  var text = meter.querySelector(".meter-text");
  var money = null;
  try {
    money = new Intl.NumberFormat(document.documentElement.lang || "en", {
      style: "currency",
      currency: form.getAttribute("data-currency") || "USD",
    });
  } catch (e) {
    money = null;
  }
  function cents(n) {
    return money ? money.format(n / 100) : (n / 100).toFixed(2);
  }

  function used() {
    var total = 0;
    if (kind === "knapsack" || kind === "approval") {
      form.querySelectorAll('input[type="checkbox"][name="approvals"]:checked').forEach(function (box) {
        total += kind === "knapsack" ? parseInt(box.getAttribute("data-cost"), 10) || 0 : 1;
      });
    } else if (kind === "cumulative") {
      form.querySelectorAll("input.pick-input").forEach(function (input) {
        var n = parseInt(input.value, 10);
        if (n > 0) total += n;
      });
    } else if (kind === "ranked") {
      form.querySelectorAll("select.pick-input").forEach(function (select) {
        if (select.value && select.value !== "0") total += 1;
      });
    }
    return total;
  }

  // The sentences come from the page (translated there): {used}, {max}, {left}.
  function fill(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, function (_, key) {
      return values[key];
    });
  }

  function describe(n) {
    var show = kind === "knapsack" ? cents : String;
    var left = max - n;
    var values = { used: show(n), max: show(max), left: show(Math.abs(left)) };
    var sentence = fill(meter.getAttribute("data-text"), values);
    var after = left >= 0 ? meter.getAttribute("data-left") : meter.getAttribute("data-over");
    return after ? sentence + " · " + fill(after, values) : sentence;
  }

  function update() {
    var n = used();
    progress.value = Math.min(n, max);
    meter.classList.toggle("over", n > max);
    text.textContent = describe(n);
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();

// Ballot settings (new round, settings page): show only the chosen ballot's settings.
(function () {
  "use strict";
  document.querySelectorAll("[data-settings]").forEach(function (box) {
    var select = box.querySelector('select[name="ballot_type"]');
    if (!select) return;
    function show() {
      box.querySelectorAll(".settings-group").forEach(function (group) {
        group.hidden = group.getAttribute("data-for") !== select.value;
      });
    }
    select.addEventListener("change", show);
    show();
  });
})();
