// The editor page's entry point. The modules import each other by plain URL: loading
// editor.js itself under a versioned URL (?v=) would make a second copy of it.
import "./editor.js";
