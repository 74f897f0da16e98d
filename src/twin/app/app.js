// The storefront journey as a person walks it, through the twin's own
// API: log in with a one-time password, join the waiting room, order,
// pay, wait for the credit, upload a PDF, stamp it, wait for the job,
// download. Plain fetch with JSON bodies and the bearer session, so a
// browser's recording of this page is the API an importer must replay.
"use strict";

const state = { session: null, challenge: null, admission: null, order: null, document: null, job: null };
const $ = (id) => document.getElementById(id);

function say(text, error) {
  const s = $("status");
  s.textContent = text;
  s.className = error ? "error" : "";
}

async function api(method, path, { json, body, type, admission } = {}) {
  const headers = {};
  if (state.session) headers["Authorization"] = "Bearer " + state.session;
  if (admission && state.admission) headers["X-Admission"] = state.admission;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (type) {
    headers["Content-Type"] = type;
  }
  const response = await fetch(path, { method, headers, body });
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const data = isJson ? await response.json() : await response.blob();
  if (!response.ok) {
    const why = isJson && data.message ? data.message : response.statusText;
    throw new Error(method + " " + path + ": " + response.status + " " + why);
  }
  return data;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Asks again every `everyMs` until `done(answer)`; gives up after a while.
async function poll(path, done, everyMs, show) {
  for (let i = 0; i < 600; i++) {
    const answer = await api("GET", path);
    if (show) show(answer);
    if (done(answer)) return answer;
    await sleep(everyMs);
  }
  throw new Error("gave up waiting on " + path);
}

function step(button, work) {
  $(button).addEventListener("click", async () => {
    $(button).disabled = true;
    try {
      await work();
    } catch (e) {
      say(e.message, true);
      $(button).disabled = false;
    }
  });
}

step("send-otp", async () => {
  const phone = $("phone").value.trim();
  if (!phone) throw new Error("isi nomor HP (enter a phone number)");
  const sent = await api("POST", "/storefront/login", { json: { phone } });
  state.challenge = sent.challenge;
  $("inbox").hidden = false;
  say("Kode dikirim ke " + sent.sent_to);
  const inbox = await poll("/storefront/otp/" + encodeURIComponent(state.challenge), (a) => a.delivered, 300);
  $("inbox-text").textContent = "e-Meterai: kode Anda " + inbox.code;
  $("inbox-text").dataset.code = inbox.code;
  $("fill-otp").hidden = false;
  $("otp").disabled = false;
  $("verify").disabled = false;
});

$("fill-otp").addEventListener("click", () => {
  $("otp").value = $("inbox-text").dataset.code || "";
});

step("verify", async () => {
  const code = $("otp").value.trim();
  const verified = await api("POST", "/storefront/login/verify", { json: { challenge: state.challenge, code } });
  state.session = verified.session;
  say("Masuk. Kuota: " + verified.quota);
  $("buy").className = "";
  $("order").disabled = false;
  $("pdf").disabled = false;
});

// The waiting room admits applicants at its own pace; an order needs the
// admission it hands out (the room lets everyone in at once when it is off).
async function admitted() {
  if (state.admission) return;
  const joined = await api("POST", "/storefront/queue");
  let ticket = joined;
  const show = (t) => {
    $("queue-text").textContent = t.admitted ? "Giliran Anda (admitted)" : "Antrean: posisi " + t.position;
  };
  show(ticket);
  if (!ticket.admitted) {
    ticket = await poll("/storefront/queue/" + encodeURIComponent(joined.ticket), (t) => t.admitted, 500, show);
  }
  state.admission = ticket.admission;
}

step("order", async () => {
  const quantity = Number($("quantity").value);
  await admitted();
  const order = await api("POST", "/storefront/orders", { json: { quantity }, admission: true });
  state.order = order.order;
  $("order-text").textContent = "Pesanan " + order.order + ": " + order.quantity + " e-Meterai, Rp" + order.amount;
  $("pay").disabled = false;
});

step("pay", async () => {
  const paid = await api("POST", "/storefront/orders/" + encodeURIComponent(state.order) + "/pay");
  $("credit-text").textContent = "Pembayaran " + paid.payment + " diterima; menunggu kuota…";
  await poll("/storefront/orders/" + encodeURIComponent(state.order), (o) => o.status === "credited", 500);
  const quota = await api("GET", "/storefront/quota");
  $("credit-text").textContent = "Kuota masuk. Saldo: " + quota.balance;
  $("stamp").className = "";
  $("upload").disabled = false;
});

step("upload", async () => {
  const file = $("pdf").files[0];
  if (!file) throw new Error("pilih dokumen PDF (choose a PDF file)");
  // The file's bytes, not the File: browsers keep a File body out of
  // their recordings, and a replay needs to know what was sent.
  const bytes = new Uint8Array(await file.arrayBuffer());
  const doc = await api("POST", "/stamping/documents", { body: bytes, type: "application/pdf" });
  state.document = doc.document;
  $("upload-text").textContent = "Dokumen " + doc.document + " (" + doc.bytes + " bytes)";
  $("stamp-it").disabled = false;
});

step("stamp-it", async () => {
  const job = await api("POST", "/stamping/documents/" + encodeURIComponent(state.document) + "/stamp");
  state.job = job.job;
  $("job-text").textContent = "Membubuhkan (serial " + job.serial + ")…";
  const done = await poll("/stamping/jobs/" + encodeURIComponent(state.job), (j) => j.state !== "signing", 300);
  if (done.state !== "done") throw new Error("stamping failed: " + (done.error || done.state));
  $("job-text").textContent = "Selesai: serial " + done.serial;
  $("download").disabled = false;
});

step("download", async () => {
  const pdf = await api("GET", "/stamping/documents/" + encodeURIComponent(state.document) + "/stamped");
  const saved = $("saved");
  saved.href = URL.createObjectURL(pdf);
  saved.hidden = false;
  say("Dokumen bermeterai siap diunduh (" + pdf.size + " bytes)");
});
