/*
 * Abysz LAB: "Send to img2img batch" (the multipass strategy of the original README).
 *
 * A1111 injects every javascript/*.js of an extension into its page. This file
 * uses A1111's own helpers (gradioApp, onUiLoaded, updateInput) and does
 * nothing outside the WebUI: the button stays hidden unless img2img's batch
 * directory fields exist and can be edited.
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
        return tabButton(tabs, "From directory", 1);
    }

    function controlNetUnit0BatchDir() {
        // sd-webui-controlnet names it img2img_controlnet_ControlNet-0_batch_image_dir (ControlNet_... with one unit).
        return root().querySelector('[id^="img2img_controlnet_ControlNet"][id$="_batch_image_dir"] textarea');
    }

    function controlNetBatchButton(field) {
        // ControlNet's "Batch" tab has no element id: it is the tab whose panel holds the batch directory box.
        var panel = field.closest(".tabitem");
        var tabs = panel ? panel.closest(".tabs") || panel.parentElement : null;
        return tabButton(tabs, "Batch", 1);
    }

    function commit(el) {
        // ControlNet copies the batch directories into its unit state on blur, not on input.
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

    function fillFields(output, source) {
        var filled = [];
        var input = textField("img2img_batch_input_dir");
        var outputField = textField("img2img_batch_output_dir");
        setText(input, output);
        setText(outputField, siblingFolder(output, PASS2_SUFFIX));
        commit(input);
        commit(outputField);
        filled.push("img2img batch input: " + output, "img2img batch output: " + siblingFolder(output, PASS2_SUFFIX));
        var controlNet = controlNetUnit0BatchDir();
        if (controlNet && source) {
            var batchTab = controlNetBatchButton(controlNet);
            if (batchTab && !isSelected(batchTab)) {
                batchTab.click();
            }
            setText(controlNet, source);
            commit(controlNet);
            filled.push("ControlNet unit 0 batch input: " + source + " (enable the unit and pick a model)");
        }
        showStatus("ok", ["Sent to img2img > Batch > From directory:"].concat(filled));
        console.log("Abysz LAB: sent to img2img batch\n  " + filled.join("\n  "));
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

    function showSendButtonWhereUsable() {
        var button = root().querySelector("#" + SEND_ID);
        if (button) {
            button.classList.toggle("abysz-hidden", !batchFieldsUsable());
        }
    }

    function init() {
        showSendButtonWhereUsable();
        root().addEventListener("click", function (event) {
            if (event.target && event.target.closest && event.target.closest("#" + SEND_ID)) {
                sendToImg2imgBatch();
            }
        });
    }

    if (typeof onUiLoaded === "function") {
        onUiLoaded(init);
    }
})();
