// deprov console: a little JavaScript on top of server-rendered pages.
// Every page works without it; it adds the scheduler's live preview, the
// CEL "Check" buttons, confirmations and the hook fields' toggle.
(function () {
  "use strict";

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";

  // errorsFor returns the container of a field's errors ("schedule.cron").
  function errorsFor(key) {
    return document.querySelector('[data-errors-for="' + key + '"]');
  }

  function showErrors(key, messages) {
    var box = errorsFor(key);
    if (!box) return;
    box.textContent = "";
    messages.forEach(function (m) {
      var p = document.createElement("p");
      p.textContent = m;
      box.appendChild(p);
    });
    var input = document.getElementById("f-" + key);
    if (input) {
      if (messages.length) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }

  // Scheduler: the next five fire times, live, as the cron expression or
  // timezone changes (debounced), from GET /api/v1/schedule/preview.
  var cron = document.querySelector("[data-cron]");
  var tz = document.querySelector("[data-timezone]");
  var list = document.getElementById("fire-times");
  var status = document.getElementById("fire-status");
  var syntax = document.getElementById("fire-syntax");
  if (cron && tz && list) {
    var timer = null, seq = 0;
    var fire = list.closest(".fire");
    var fmtCache = {};
    var formatter = function (zone) {
      if (!fmtCache[zone]) {
        try {
          fmtCache[zone] = new Intl.DateTimeFormat("en-GB", {
            timeZone: zone, weekday: "short", day: "numeric", month: "short", year: "numeric",
            hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short"
          });
        } catch (e) {
          fmtCache[zone] = null;
        }
      }
      return fmtCache[zone];
    };
    // format writes "Sun 29 Nov 2026, 12:00 CET", as the server does.
    var format = function (f, d) {
      var p = {};
      f.formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
      return p.weekday + " " + p.day + " " + p.month + " " + p.year + ", " + p.hour + ":" + p.minute + " " + p.timeZoneName;
    };
    var render = function (data) {
      list.textContent = "";
      var f = formatter(data.timezone);
      data.next.forEach(function (s) {
        var li = document.createElement("li");
        var t = document.createElement("time");
        t.dateTime = s;
        t.textContent = f ? format(f, new Date(s)) : s;
        li.appendChild(t);
        list.appendChild(li);
      });
      status.textContent = data.next.length ? "" : "This expression never fires again.";
      if (syntax) syntax.textContent = "· " + (data.syntax === "quartz" ? "Quartz" : "crontab");
    };
    var preview = function () {
      var expr = cron.value.trim();
      var zone = tz.value.trim();
      var mine = ++seq;
      if (!expr) {
        list.textContent = "";
        status.textContent = "Enter a cron expression to see when the rule fires.";
        if (syntax) syntax.textContent = "";
        showErrors("schedule.cron", []);
        showErrors("schedule.timezone", []);
        return;
      }
      fire.classList.add("loading");
      var q = "cron=" + encodeURIComponent(expr) + "&timezone=" + encodeURIComponent(zone) + "&n=5";
      fetch("/api/v1/schedule/preview?" + q, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (res) {
          return res.json().then(function (body) { return { ok: res.ok, status: res.status, body: body }; });
        })
        .then(function (r) {
          if (mine !== seq) return; // a newer request is under way
          fire.classList.remove("loading");
          var cronErrs = [], tzErrs = [];
          if (r.ok) {
            render(r.body);
          } else {
            (r.body.errors || []).forEach(function (e) {
              if (e.location === "query.timezone") tzErrs.push(e.message);
              else cronErrs.push(e.message);
            });
            if (!cronErrs.length && !tzErrs.length) cronErrs.push(r.body.detail || ("error " + r.status));
            list.textContent = "";
            if (syntax) syntax.textContent = "";
            status.textContent = "Fix the schedule to see its fire times.";
          }
          showErrors("schedule.cron", cronErrs);
          showErrors("schedule.timezone", tzErrs);
        })
        .catch(function () {
          if (mine !== seq) return;
          fire.classList.remove("loading");
          status.textContent = "Could not reach the server to preview the schedule.";
        });
    };
    var schedule = function () {
      clearTimeout(timer);
      timer = setTimeout(preview, 300);
    };
    cron.addEventListener("input", schedule);
    tz.addEventListener("input", schedule);
    tz.addEventListener("change", schedule);
  }

  // CEL "Check" buttons: POST /api/v1/rules/check-cel, errors with line
  // and column shown next to the field.
  document.querySelectorAll("[data-cel-check]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var field = document.getElementById(btn.getAttribute("data-cel-check"));
      var key = btn.getAttribute("data-cel-errors");
      var out = document.querySelector('[data-cel-result="' + key + '"]');
      var expr = field.value.trim();
      out.className = "check-result";
      if (!expr) {
        out.textContent = "Nothing to check.";
        showErrors(key, []);
        return;
      }
      btn.disabled = true;
      out.textContent = "Checking…";
      fetch("/api/v1/rules/check-cel", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ expression: expr })
      })
        .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, body: body }; }); })
        .then(function (r) {
          btn.disabled = false;
          if (!r.ok) {
            out.textContent = "";
            showErrors(key, [r.body.detail || "the check failed"]);
            return;
          }
          if (r.body.ok) {
            out.className = "check-result ok";
            out.textContent = "✓ Compiles";
            showErrors(key, []);
            return;
          }
          out.className = "check-result bad";
          out.textContent = (r.body.errors || []).length === 1 ? "1 error" : (r.body.errors || []).length + " errors";
          showErrors(key, (r.body.errors || []).map(function (e) {
            return e.line ? "line " + e.line + ", column " + e.column + ": " + e.message : e.message;
          }));
        })
        .catch(function () {
          btn.disabled = false;
          out.textContent = "Could not reach the server.";
        });
    });
  });

  // Hook fields: show the CEL or the URL fields for the chosen kind.
  var kind = document.querySelector("[data-hook-kind]");
  if (kind) {
    var sync = function () {
      document.querySelectorAll("[data-hook]").forEach(function (el) {
        el.hidden = el.getAttribute("data-hook") !== kind.value;
      });
    };
    kind.addEventListener("change", sync);
    sync();
  }

  // End-date offset: enabled with its checkbox.
  var edOn = document.getElementById("f-endDateOn");
  var edOff = document.getElementById("f-trigger.endDate");
  if (edOn && edOff) {
    var syncEd = function () { edOff.disabled = !edOn.checked; };
    edOn.addEventListener("change", syncEd);
    syncEd();
  }

  // Confirmation before forms that act on targets.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });

  // A page restored from the back-forward cache gets its buttons back.
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) return;
    document.querySelectorAll('form[method="post"] button[type="submit"]').forEach(function (b) { b.disabled = false; });
  });

  // A form, once sent, is not sent twice by a double click.
  document.querySelectorAll('form[method="post"]').forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (ev.defaultPrevented) return;
      setTimeout(function () {
        form.querySelectorAll('button[type="submit"]').forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });
})();
