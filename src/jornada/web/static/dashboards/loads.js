// The upload form of the data page: send the file as the request body (streamed by the
// browser), then poll the load job and show its steps until it ends.

const form = document.getElementById("upload-form");
const statusLine = document.getElementById("upload-status");
const stepsList = document.getElementById("upload-steps");
const messages = JSON.parse(form.dataset.messages);
const maxBytes = Number(form.dataset.maxBytes);
const csrf = document.querySelector('meta[name="csrf-token"]').content;

function show(text, isError = false) {
  statusLine.textContent = text;
  statusLine.className = isError ? "alert alert-error" : "muted";
}

function showSteps(steps, done) {
  stepsList.hidden = steps.length === 0;
  stepsList.classList.toggle("done", done);
  stepsList.replaceChildren(
    ...steps.map((step) => {
      const item = document.createElement("li");
      item.textContent = step;
      return item;
    }),
  );
}

async function poll(url) {
  for (;;) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const job = await response.json();
    if (!response.ok) throw new Error(job.error ? job.error.message : String(response.status));
    showSteps(job.steps, job.status === "done");
    if (job.status === "done") return job;
    if (job.status === "failed") throw new Error(job.error);
    await new Promise((resolve) => setTimeout(resolve, 600));
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = form.elements.namedItem("file").files[0];
  if (!file) return;
  if (file.size > maxBytes) {
    show(messages.too_large, true);
    return;
  }
  const params = new URLSearchParams({ filename: file.name });
  for (const [name, value] of new FormData(form)) {
    if (name !== "file" && typeof value === "string" && value.trim() !== "") {
      params.set(name, value.trim());
    }
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  show(messages.uploading);
  showSteps([], false);
  try {
    const response = await fetch(`/api/loads?${params}`, {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: file,
    });
    const job = await response.json();
    if (!response.ok) throw new Error(job.error ? job.error.message : String(response.status));
    show(messages.queued);
    const done = await poll(job.status_url);
    const result = done.result;
    show(
      messages.done
        .replace("{loaded}", result.loaded.toLocaleString())
        .replace("{duplicates}", result.duplicates.toLocaleString())
        .replace("{quarantined}", result.quarantined.toLocaleString()),
    );
    const link = document.createElement("a");
    link.href = "/loads";
    link.textContent = ` ${messages.reload}`;
    statusLine.append(link);
  } catch (error) {
    show(`${messages.failed} ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
});
