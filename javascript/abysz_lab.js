/*
 * Abysz LAB: "Send to img2img batch" (the multipass strategy of the original README).
 *
 * A1111 injects every javascript/*.js of an extension into its page. This file
 * uses A1111's own helpers (gradioApp, onUiLoaded, updateInput) where they
 * exist: the button stays hidden unless img2img's batch directory fields exist
 * and can be edited. The standalone app runs it too (abysz_lab.ui.build_ui),
 * for the other job here: bringing a new status message into view when it
 * lands below the fold.
 */
(function () {
    "use strict";

    if (window.abyszLabLoaded) {
        return;
    }
    window.abyszLabLoaded = true;

    var SEND_ID = "abysz_dfi_send_img2img";
    var PASS2_SUFFIX = "_pass2";

    function root() {
        return typeof gradioApp === "function" ? gradioApp() : document;
    }

    function textField(id) {
        return root().querySelector("#" + id + " textarea, #" + id + " input[type=text]");
    }

    function textOf(id) {
        var el = textField(id);
        return el ? el.value.trim() : "";
    }

    function setText(el, value) {
        el.value = value;
        if (typeof updateInput === "function") {
            updateInput(el); // Gradio only sees programmatic changes through an input event
        } else {
            el.dispatchEvent(new Event("input", {bubbles: true}));
        }
    }

    function siblingFolder(folder, suffix) {
        return folder.replace(/[\\/]+$/, "") + suffix;
    }

    function batchFieldsUsable() {
        var input = textField("img2img_batch_input_dir");
        var output = textField("img2img_batch_output_dir");
        return Boolean(input && output && !input.disabled && !output.disabled);
    }

    function tabButton(container, label, fallbackIndex) {
        if (!container) {
            return null;
        }
        var buttons = container.querySelectorAll(".tab-nav button, [role=tablist] button");
        for (var i = 0; i < buttons.length; i++) {
            if (buttons[i].textContent.trim() === label) {
                return buttons[i];
            }
        }
        return fallbackIndex !== null && buttons[fallbackIndex] ? buttons[fallbackIndex] : null;
    }

    function isSelected(button) {
        return button.classList.contains("selected") || button.getAttribute("aria-selected") === "true";
    }

    function batchFromDirectoryButton() {
        var panel = root().querySelector("#img2img_batch_from_dir_tab");
        var tabs = panel ? panel.closest(".tabs") || panel.parentElement : null;
        return tabButton(tabs, "From directory", null);
    }

    // ControlNet unit 0 in img2img, as sd-webui-controlnet (Mikubill) and Forge's built-in ControlNet lay it
    // out: ids img2img_controlnet_ControlNet-0_* ("ControlNet_*" with a single unit).
    var CN_UNIT = '[id^="img2img_controlnet_ControlNet"]';
    // The unit's batch tab, by its label: "Batch" (Mikubill: Single Image / Batch / Multi-Inputs) or
    // "Batch Folder" (Forge: Single Image / Batch Folder / Batch Upload). Never by position.
    var CN_BATCH_TAB_LABELS = ["Batch", "Batch Folder"];

    function controlNetUnit0(suffix) {
        return root().querySelector(CN_UNIT + '[id$="' + suffix + '"]');
    }

    function controlNetUnit0BatchDir() {
        var box = controlNetUnit0("_batch_image_dir");
        return box ? box.querySelector("textarea, input[type=text]") : null;
    }

    function checkboxIn(block) {
        return block ? block.querySelector("input[type=checkbox]") : null;
    }

    function isShown(el) {
        return Boolean(el && el.getClientRects().length && getComputedStyle(el).visibility !== "hidden");
    }

    function controlNetBatchButton(field) {
        // The unit's input tabs have no element id: take the tab list of the tabs that hold the batch box.
        var panel = field.closest(".tabitem");
        var tabs = panel ? panel.closest(".tabs") || panel.parentElement : null;
        if (!tabs) {
            return null;
        }
        var buttons = tabs.querySelectorAll(".tab-nav button, [role=tablist] button");
        for (var i = 0; i < buttons.length; i++) {
            if (CN_BATCH_TAB_LABELS.indexOf(buttons[i].textContent.trim()) >= 0) {
                return buttons[i];
            }
        }
        return null;
    }

    function commit(el) {
        // ControlNet copies the batch directories into the unit's state on blur, not on input; Generate
        // then sends that state, never the box itself.
        el.dispatchEvent(new Event("blur"));
    }

    function showStatus(kind, lines) {
        var status = root().querySelector("#abysz_dfi_status");
        if (!status) {
            return;
        }
        var box = document.createElement("div");
        box.className = "abysz-msg abysz-msg-" + kind;
        lines.forEach(function (line, index) {
            if (index) {
                box.appendChild(document.createElement("br"));
            }
            box.appendChild(document.createTextNode(line));
        });
        var target = status.querySelector(".prose") || status;
        target.replaceChildren(box);
    }

    // A line next to unit 0's "Upload independent control image" box: the user is in img2img, not in our tab.
    function noteInControlNet(kind, text) {
        var anchor = controlNetUnit0("_controlnet_same_img2img_checkbox");
        if (!anchor || !anchor.parentElement) {
            return;
        }
        var note = root().querySelector("#abysz_cn_note");
        if (!note) {
            note = document.createElement("div");
            note.id = "abysz_cn_note";
            note.style.cssText = "padding:0.4em 0.7em;margin:0.3em 0;border-radius:6px;border-left:4px solid;";
            anchor.insertAdjacentElement("afterend", note);
        }
        note.style.borderLeftColor = kind === "ok" ? "#16a34a" : "#d97706";
        note.textContent = "Abysz LAB: " + text;
    }

    // Open what hides unit 0 in the real hosts: the closed "ControlNet" accordion (Mikubill: "ControlNet
    // v1.1.x" with a tab per unit; Forge: "ControlNet Integrated" with an accordion per unit). Walks up from
    // the unit's own checkbox, so it opens exactly the containers that hold unit 0.
    function revealControlNetUnit0(anchor) {
        for (var el = anchor.parentElement; el && el !== document.body; el = el.parentElement) {
            for (var i = 0; i < el.children.length; i++) {
                var wrap = el.children[i];
                if (wrap.classList.contains("label-wrap") && !wrap.classList.contains("open")) {
                    wrap.click(); // a closed accordion
                }
            }
            if (el.classList.contains("tabitem") && !isShown(el) && el.parentElement) {
                var items = Array.prototype.filter.call(el.parentElement.children, function (child) {
                    return child.classList.contains("tabitem");
                });
                var buttons = el.parentElement.querySelectorAll(".tab-nav button, [role=tablist] button");
                var button = buttons[items.indexOf(el)];
                if (button) {
                    button.click(); // the tab (e.g. "ControlNet Unit 0") whose panel holds the unit
                }
            }
        }
    }

    // What the last send gave ControlNet, so a field that ControlNet clears later can be filled again.
    var controlNetSent = null;

    function controlNetTodo() {
        var todo = [];
        var enable = checkboxIn(controlNetUnit0("_controlnet_enable_checkbox"));
        if (!enable || !enable.checked) {
            todo.push("tick Enable on ControlNet unit 0");
        }
        todo.push("pick its preprocessor and model");
        return "Still to do: " + todo.join(", ") + ", then Generate.";
    }

    // Make unit 0's batch box usable, then fill it: in img2img its panel is hidden until "Upload independent
    // control image" is ticked, and ticking that clears the box, so tick first, then select the batch tab,
    // then fill. Calls done(lines, confirmed) when finished or given up.
    function fillControlNet(source, done) {
        var field = controlNetUnit0BatchDir();
        var anchor = controlNetUnit0("_controlnet_same_img2img_checkbox");
        var independent = checkboxIn(anchor);
        var tries = 0;
        (function step() {
            tries += 1;
            if (anchor && !isShown(anchor)) {
                revealControlNetUnit0(anchor);
            }
            if (independent && !independent.checked && (!anchor || isShown(anchor))) {
                independent.click();
            }
            field = controlNetUnit0BatchDir();
            var batchTab = field ? controlNetBatchButton(field) : null;
            if (batchTab && !isSelected(batchTab)) {
                batchTab.click();
            }
            var ready = field && isShown(field) && batchTab && isSelected(batchTab);
            if (!ready && tries < 40) {
                setTimeout(step, 100);
                return;
            }
            if (!ready) {
                controlNetSent = null;
                done([
                    "ControlNet unit 0: could not open its " + CN_BATCH_TAB_LABELS.join(" / ") + " tab, so the " +
                        "original frames were NOT set. Without them ControlNet uses the img2img frames (the DFI " +
                        "output). Tick 'Upload independent control image' on unit 0, open its batch tab and enter: " +
                        source,
                ], false);
                return;
            }
            setText(field, source);
            var global = textField("controlnet_batch_input_dir");
            if (global && !global.value.trim()) {
                setText(global, source); // the fallback ControlNet uses when a unit's own batch box is empty
            }
            controlNetSent = {source: source, warned: false};
            noteInControlNet("ok", "batch input set to the original frames: " + source);
            done(["ControlNet unit 0 batch input: " + source + " (the original frames)"], field.value === source);
        })();
    }

    // ControlNet clears unit 0's batch box when "Upload independent control image" is ticked or unticked.
    // Fill it again while the panel shows; warn while it is hidden (ControlNet would use the DFI output).
    function watchControlNet() {
        if (!controlNetSent) {
            return;
        }
        var field = controlNetUnit0BatchDir();
        var anchor = controlNetUnit0("_controlnet_same_img2img_checkbox");
        if (!field || (anchor && !isShown(anchor))) {
            return; // img2img is not on screen: nothing to judge
        }
        if (!isShown(field)) {
            if (!controlNetSent.warned) {
                controlNetSent.warned = true;
                var independent = checkboxIn(controlNetUnit0("_controlnet_same_img2img_checkbox"));
                var text = independent && !independent.checked
                    ? "'Upload independent control image' is off, so ControlNet unit 0 uses the img2img frames " +
                        "(the DFI output) as control images. Tick it again to use the original frames (" +
                        controlNetSent.source + "): they are filled in again."
                    : "ControlNet unit 0 left its batch tab, so it does not use the original frames (" +
                        controlNetSent.source + ") any more. Open the batch tab again to use them.";
                showStatus("warning", [text]);
                noteInControlNet("warning", text);
            }
            return;
        }
        if (field.value.trim() === "") {
            var batchTab = controlNetBatchButton(field);
            if (batchTab && !isSelected(batchTab)) {
                batchTab.click();
            }
            setText(field, controlNetSent.source);
            commit(field);
            controlNetSent.warned = false;
            var again = "ControlNet emptied unit 0's batch input; filled in again: " + controlNetSent.source;
            showStatus("ok", [again, controlNetTodo()]);
            noteInControlNet("ok", again);
        }
    }

    function fillFields(output, source) {
        var input = textField("img2img_batch_input_dir");
        var outputField = textField("img2img_batch_output_dir");
        var pass2 = siblingFolder(output, PASS2_SUFFIX);
        function finish(controlNetLines, confirmed) {
            // Fill img2img's folders after ControlNet's, so every blur below sees the unit's own folder
            // (ControlNet's fallback chain would otherwise store img2img's input, i.e. the DFI output).
            setText(input, output);
            setText(outputField, pass2);
            var controlNet = controlNetUnit0BatchDir();
            [controlNet, textField("controlnet_batch_input_dir"), input, outputField].forEach(function (el) {
                if (el) {
                    commit(el);
                }
            });
            var lines = ["Sent to img2img > Batch > From directory:", "img2img batch input: " + output,
                "img2img batch output: " + pass2].concat(controlNetLines);
            if (controlNetLines.length && confirmed) {
                lines.push(controlNetTodo());
            }
            showStatus(confirmed ? "ok" : "warning", lines);
            console.log("Abysz LAB: sent to img2img batch\n  " + lines.slice(1).join("\n  "));
        }
        if (controlNetUnit0BatchDir() && source) {
            fillControlNet(source, finish);
        } else {
            finish([], true);
        }
    }

    function sendToImg2imgBatch() {
        var output = textOf("abysz_dfi_last_output") || textOf("abysz_dfi_output");
        var source = textOf("abysz_dfi_source");
        if (!output) {
            showStatus("warning", ["Run DFI first (or fill 'DFI output folder'): its output becomes img2img's batch input."]);
            return;
        }
        if (!batchFieldsUsable()) {
            showStatus("error", ["img2img's batch directory fields are missing or read-only (--hide-ui-dir-config)."]);
            return;
        }
        if (typeof switch_to_img2img === "function") {
            switch_to_img2img();
        }
        // Gradio shows a tab's content a moment after its button is clicked: click through img2img ->
        // Batch -> "From directory" (A1111 1.10 ignores the directory fields unless that sub-tab was
        // selected, through its select event), then fill the fields.
        var tries = 0;
        (function step() {
            tries += 1;
            var batch = tabButton(root().querySelector("#mode_img2img"), "Batch", null);
            if (batch && !isSelected(batch)) {
                batch.click();
            }
            var fromDirectory = batchFromDirectoryButton();
            if (fromDirectory && !isSelected(fromDirectory)) {
                fromDirectory.click();
            }
            if (fromDirectory && isSelected(fromDirectory)) {
                fillFields(output, source);
            } else if (tries < 40) {
                setTimeout(step, 100);
            } else {
                var text = "Could not open img2img > Batch > From directory; fill the folders by hand.";
                showStatus("error", [text]);
                alert("Abysz LAB: " + text);
            }
        })();
    }

    // A status message that lands below the fold is brought into view, with its button still on screen,
    // when the user is looking at that part of the tab (its top is within a screen of the viewport).
    function bringStatusIntoView(status) {
        var box = status.getBoundingClientRect();
        var height = window.innerHeight;
        if (box.height === 0 || box.bottom <= height || box.top > 2 * height || box.top < 0) {
            return;
        }
        var room = Math.max(0, box.top - 160); // keep the button row above the status in view
        window.scrollBy(0, Math.min(box.bottom - height + 16, room));
    }

    function watchStatuses() {
        if (typeof MutationObserver !== "function") {
            return;
        }
        var seen = new WeakMap();
        new MutationObserver(function () {
            root().querySelectorAll("#abysz_lab_root .abysz-status").forEach(function (status) {
                var message = status.querySelector(".abysz-msg");
                if (message && seen.get(status) !== message) {
                    seen.set(status, message);
                    bringStatusIntoView(status);
                }
            });
            watchControlNet();
        }).observe(root(), {childList: true, subtree: true, attributes: true, attributeFilter: ["class", "style"]});
    }

    function showSendButtonWhereUsable() {
        var button = root().querySelector("#" + SEND_ID);
        if (button) {
            button.classList.toggle("abysz-hidden", !batchFieldsUsable());
        }
    }

    function init() {
        showSendButtonWhereUsable();
        watchStatuses();
        // ControlNet clears its box from the server side without a DOM event we could hear: look again now
        // and then while a send is live.
        setInterval(watchControlNet, 500);
        root().addEventListener("click", function (event) {
            if (event.target && event.target.closest && event.target.closest("#" + SEND_ID)) {
                sendToImg2imgBatch();
            }
        });
    }

    if (typeof onUiLoaded === "function") {
        onUiLoaded(init); // inside A1111 / Forge
    } else {
        init(); // the standalone app runs this file on page load (abysz_lab.ui.build_ui)
    }
})();
