// Stand-ins for the A1111 page helpers javascript/abysz_lab.js uses (written for the tests).
function gradioApp() {
    var app = document.querySelector("gradio-app");
    if (!app) {
        return document;
    }
    return app.shadowRoot ? app.shadowRoot : app;
}

var standinUiLoaded = [];

function onUiLoaded(callback) {
    standinUiLoaded.push(callback);
}

function updateInput(target) {
    var event = new Event("input", {bubbles: true});
    Object.defineProperty(event, "target", {value: target});
    target.dispatchEvent(event);
}

function switch_to_img2img() {
    var buttons = gradioApp().querySelectorAll("#tabs > .tab-nav button, #tabs > div > [role=tablist] button");
    for (var i = 0; i < buttons.length; i++) {
        if (buttons[i].textContent.trim() === "img2img") {
            buttons[i].click();
            return;
        }
    }
}
