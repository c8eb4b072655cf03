// Cordial console: light enhancements over server-rendered pages.
// Live updates come over Server-Sent Events (EventSource); nothing here polls.
(function () {
  "use strict";

  var strings = {};
  try {
    strings = JSON.parse(document.getElementById("js-strings").textContent || "{}");
  } catch (e) {
    strings = {};
  }

  function say(key, values) {
    var text = strings[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(values[name]);
    });
    return text;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function announce(text) {
    var region = document.getElementById("live-status");
    if (region) {
      region.textContent = text;
    }
  }

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // -- times in the agent's own zone ------------------------------------------------------
  var timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    dateStyle: "short",
    timeStyle: "short",
  });

  function localiseTimes(root) {
    (root || document).querySelectorAll("time[data-agent-time]").forEach(function (node) {
      var when = new Date(node.getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        node.textContent = timeFormat.format(when);
      }
    });
  }

  // -- forms --------------------------------------------------------------------------------
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) {
      event.target.form.submit();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // -- revealing personal data (logged on the server) ------------------------------------------
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-reveal-url]");
    if (!button) {
      return;
    }
    var body = new URLSearchParams();
    body.set("field", button.getAttribute("data-field"));
    if (button.hasAttribute("data-phone-id")) {
      body.set("phone_id", button.getAttribute("data-phone-id"));
    }
    fetch(button.getAttribute("data-reveal-url"), {
      method: "POST",
      headers: { "X-CSRF-Token": csrfToken(), "X-Requested-With": "fetch", Accept: "application/json" },
      body: body,
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (data) {
          return { ok: response.ok, data: data };
        });
      })
      .then(function (result) {
        if (!result.ok) {
          throw new Error(result.data.error || "");
        }
        var target = document.getElementById(button.getAttribute("data-target"));
        target.textContent = result.data.value;
        target.classList.add("revealed");
        button.hidden = true;
      })
      .catch(function () {
        announce(say("reveal_failed"));
        button.textContent = say("reveal_failed");
      });
  });

  // -- the agent's live stream: screen pop, queue, transcript ------------------------------------
  function removePop(attemptId) {
    var card = document.querySelector('#screen-pop [data-attempt="' + attemptId + '"]');
    if (card) {
      card.remove();
    }
    popsChanged();
  }

  function popsChanged() {
    var region = document.getElementById("screen-pop");
    document.body.classList.toggle("has-pop", Boolean(region && region.children.length));
  }

  function showPop(data) {
    var region = document.getElementById("screen-pop");
    if (!region) {
      return;
    }
    removePop(data.attempt_id);
    region.insertAdjacentHTML("afterbegin", data.html);
    document.body.classList.add("has-pop");
    var card = region.querySelector('[data-attempt="' + data.attempt_id + '"]');
    if (card) {
      // Epoch milliseconds, comparable with the server's clock (scripts/bench_screen_pop.py).
      card.setAttribute("data-popped-at", String(performance.timeOrigin + performance.now()));
      var name = card.querySelector(".pop-name");
      announce(say("pop_announce", { name: name ? name.textContent : "" }));
      if (!typing(document.activeElement)) {
        card.focus({ preventScroll: true });
      }
    }
  }

  function markTaken(data) {
    var card = document.querySelector('#screen-pop [data-attempt="' + data.attempt_id + '"]');
    if (!card) {
      return;
    }
    if (data.mine) {
      card.remove();
      popsChanged();
      return;
    }
    var note = card.querySelector(".pop-taken");
    note.textContent = say("taken_by", { by: data.by });
    note.hidden = false;
    card.classList.add("taken");
    card.querySelectorAll("[data-take]").forEach(function (button) {
      button.disabled = true;
    });
    window.setTimeout(function () {
      card.remove();
      popsChanged();
    }, 4000);
  }

  function showTranscript(data) {
    var lines = document.getElementById("transcript-lines");
    var partial = document.getElementById("transcript-partial");
    var empty = document.getElementById("transcript-empty");
    if (!lines || !partial) {
      return;
    }
    if (empty) {
      empty.hidden = true;
    }
    if (data.final) {
      var item = document.createElement("li");
      item.textContent = data.text;
      lines.appendChild(item);
      partial.textContent = "";
    } else {
      partial.textContent = data.text;
    }
    suggest(data.matches || []);
  }

  function suggest(matches) {
    if (!matches.length) {
      return;
    }
    document.querySelectorAll(".objection.suggested").forEach(function (card) {
      card.classList.remove("suggested");
      card.querySelector(".suggested-badge").hidden = true;
    });
    var best = matches[0];
    var card = document.getElementById("objection-" + best.key);
    if (!card) {
      return;
    }
    card.classList.add("suggested");
    card.querySelector(".suggested-badge").hidden = false;
    var phrase = card.querySelector(".matched-phrase");
    if (phrase) {
      phrase.textContent = say("suggested_because", { phrase: best.phrase });
      phrase.hidden = false;
    }
  }

  function connectAgentStream(url) {
    var source = new EventSource(url);
    source.addEventListener("open", function () {
      document.body.classList.add("live");
      document.body.classList.remove("reconnecting");
    });
    source.addEventListener("error", function () {
      document.body.classList.remove("live");
      document.body.classList.add("reconnecting");
      announce(say("reconnecting"));
    });
    source.addEventListener("pop", function (event) {
      showPop(JSON.parse(event.data));
    });
    source.addEventListener("taken", function (event) {
      markTaken(JSON.parse(event.data));
    });
    source.addEventListener("gone", function (event) {
      var attemptId = JSON.parse(event.data).attempt_id;
      if (document.querySelector('#screen-pop [data-attempt="' + attemptId + '"]')) {
        announce(say("gone"));
      }
      removePop(attemptId);
    });
    source.addEventListener("queue", function (event) {
      var region = document.getElementById("queue-region");
      if (region) {
        region.innerHTML = JSON.parse(event.data).html;
        localiseTimes(region);
      }
    });
    source.addEventListener("transcript", function (event) {
      showTranscript(JSON.parse(event.data));
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }

  function connectWallboard(url) {
    var source = new EventSource(url);
    var badge = document.getElementById("wallboard-live");
    source.addEventListener("open", function () {
      if (badge) {
        badge.hidden = false;
      }
    });
    source.addEventListener("error", function () {
      if (badge) {
        badge.hidden = true;
      }
    });
    source.addEventListener("wallboard", function (event) {
      var board = document.getElementById("wallboard");
      board.innerHTML = JSON.parse(event.data).html;
      localiseTimes(board);
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }

  // -- playbook: search and hotkeys ---------------------------------------------------------------
  function filterPlaybook(query) {
    var words = query.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").split(/\s+/).filter(Boolean);
    document.querySelectorAll("#objections .objection").forEach(function (card) {
      var haystack = (card.getAttribute("data-search") || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "");
      card.hidden = !words.every(function (word) {
        return haystack.indexOf(word) >= 0;
      });
    });
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-playbook-search]")) {
      filterPlaybook(event.target.value);
    }
  });

  function toggleCard(hotkey) {
    var card = document.querySelector('.objection[data-hotkey="' + hotkey + '"]');
    if (!card) {
      return false;
    }
    card.hidden = false;
    card.open = !card.open;
    if (card.open) {
      card.scrollIntoView({ block: "nearest" });
      card.querySelector("summary").focus({ preventScroll: true });
    }
    return true;
  }

  var pendingG = false;
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (event.key === "Escape") {
      document.querySelectorAll(".objection[open]").forEach(function (card) {
        card.open = false;
      });
      if (typing(event.target)) {
        event.target.blur();
      }
      return;
    }
    if (typing(event.target)) {
      return;
    }
    if (pendingG) {
      pendingG = false;
      if (event.key === "q") {
        var home = document.querySelector(".topbar nav a");
        if (home) {
          window.location.assign(home.href);
        }
        event.preventDefault();
        return;
      }
    }
    if (/^[1-9]$/.test(event.key) && toggleCard(event.key)) {
      event.preventDefault();
    } else if (event.key === "/") {
      var search = document.querySelector("[data-playbook-search]");
      if (search) {
        search.focus();
        event.preventDefault();
      }
    } else if (event.key === "t") {
      var take = document.querySelector("#screen-pop [data-take]:not([disabled])");
      if (take) {
        take.click();
        event.preventDefault();
      }
    } else if (event.key === "n") {
      var note = document.getElementById("note-text");
      if (note) {
        note.focus();
        event.preventDefault();
      }
    } else if (event.key === "g") {
      pendingG = true;
    } else if (event.key === "?") {
      var help = document.querySelector(".shortcuts-help details");
      if (help) {
        help.open = !help.open;
      }
    }
  });

  document.addEventListener("click", function (event) {
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      var card = dismiss.closest(".pop-card");
      if (card) {
        card.remove();
        popsChanged();
      }
    }
    var preset = event.target.closest("[data-apply-preset]");
    if (preset) {
      ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].forEach(function (day) {
        var input = document.getElementById("window-" + day);
        if (input) {
          input.value = preset.getAttribute("data-" + day) || "";
        }
      });
      var first = document.getElementById("window-mon");
      if (first) {
        first.focus();
      }
    }
  });

  // -- start --------------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", function () {
    localiseTimes(document);
    var streamUrl = document.body.getAttribute("data-stream-url");
    if (streamUrl && window.EventSource) {
      connectAgentStream(streamUrl);
    }
    var wallboardUrl = document.body.getAttribute("data-wallboard-url");
    if (wallboardUrl && window.EventSource) {
      connectWallboard(wallboardUrl);
    }
  });
})();
