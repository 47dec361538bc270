// Bindery's web UI script: what HTML alone cannot do on the library page.
//  - Uploads: one request per file (the raw file as the body), each with its own progress bar (XHR upload events),
//    from the file input or by dropping files on the drop zone.
//  - Live progress: the project's Server-Sent Events stream moves each book's pipeline bar and stage list, and the
//    status of the covers in the library.
//  - On every page: forms marked `data-confirm` (delete, revoke, cancel) ask before they are sent. Without the
//    script they are sent at once, as plain forms.
// Requests carry the session cookies; changes repeat the CSRF cookie in `x-csrf-token`. A `401` means the access
// cookie expired: the script refreshes it once (`POST /ui/auth/refresh`) and tries again.
(function () {
  'use strict';

  document.addEventListener('submit', (e) => {
    const form = e.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      e.preventDefault();
    }
  });

  const section = document.getElementById('library-section');
  if (!section) return;
  const project = section.dataset.project;
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  /** Uploaded documents of this page: id → { item, stages, terminal }. */
  const tracked = new Map();

  /** One refresh at a time: two requests spending the same refresh token would look like a stolen token. */
  let refreshing = null;
  function refreshSession() {
    if (!refreshing) {
      refreshing = fetch('/ui/auth/refresh', { method: 'POST', headers: { 'x-csrf-token': csrf() } })
        .then((r) => r.ok, () => false)
        .finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  /** GET as JSON, refreshing the session once on 401. */
  async function getJson(url) {
    let r = await fetch(url, { headers: { accept: 'application/json' } });
    if (r.status === 401 && (await refreshSession())) r = await fetch(url, { headers: { accept: 'application/json' } });
    if (!r.ok) throw new Error(await problem(r.status, await r.text()));
    return r.json();
  }

  function problem(status, body) {
    try {
      const p = JSON.parse(body);
      if (p && p.detail) return p.detail;
    } catch (_) { /* not a problem document */ }
    return 'the server answered ' + status;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ----- Uploads -----

  const list = document.getElementById('uploads');
  const input = document.getElementById('files');
  const zone = document.getElementById('dropzone');
  const queue = [];
  let running = 0;
  const PARALLEL = 2;

  function addFiles(files) {
    for (const file of files) {
      const item = el('li', { class: 'upload-item' });
      item.append(el('span', { class: 'name' }, file.name));
      const label = el('label', {}, 'Upload ');
      const bar = el('progress', { class: 'upload-progress', max: '100', value: '0' });
      label.append(bar);
      const state = el('span', { class: 'state', role: 'status' }, 'Waiting to upload');
      item.append(label, state);
      list.append(item);
      queue.push({ file, item, bar, state });
    }
    pump();
  }

  function pump() {
    while (running < PARALLEL && queue.length) {
      running++;
      send(queue.shift(), true);
    }
  }

  function send(job, mayRetry) {
    const { file, item, bar, state } = job;
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/projects/' + encodeURIComponent(project) + '/documents?filename=' + encodeURIComponent(file.name));
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('x-csrf-token', csrf());
    state.textContent = 'Uploading';
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const percent = Math.round((e.loaded / e.total) * 100);
      bar.value = percent;
      state.textContent = 'Uploading, ' + percent + '%';
    };
    const done = () => { running--; pump(); };
    xhr.onload = async () => {
      if (xhr.status === 401 && mayRetry && (await refreshSession())) {
        send(job, false);
        return;
      }
      done();
      if (xhr.status < 200 || xhr.status >= 300) {
        item.classList.add('failed');
        state.textContent = 'Upload failed: ' + problem(xhr.status, xhr.responseText);
        return;
      }
      bar.value = 100;
      const doc = JSON.parse(xhr.responseText).documents[0];
      state.textContent = doc.created ? 'Uploaded; waiting for the pipeline' : 'Already in this project';
      track(doc.id, item, state);
    };
    xhr.onerror = () => {
      done();
      state.textContent = 'Upload failed: the connection was interrupted.';
    };
    xhr.send(file);
  }

  /** Follows a document: a snapshot now (stage list, bar), then the stream's messages. */
  async function track(id, item, state) {
    item.dataset.document = id;
    const label = el('label', {}, 'Processing ');
    const bar = el('progress', { class: 'pipeline-progress', max: '100', value: '0' });
    label.append(bar);
    const stages = el('ul', { class: 'stages', 'aria-label': 'Stages' });
    item.insertBefore(label, state);
    item.insertBefore(stages, state);
    const entry = { item, bar, state, stages, terminal: false };
    tracked.set(id, entry);
    await snapshot(id, entry);
  }

  async function snapshot(id, entry) {
    try {
      const doc = await getJson('/api/v1/documents/' + encodeURIComponent(id));
      if (!entry.stages.children.length) {
        for (const name of doc.stage_order || []) entry.stages.append(el('li', { 'data-stage': name }, name));
      }
      for (const [name, s] of Object.entries(doc.stages || {})) if (s.completed) markStage(entry, name);
      show(entry, { document: id, status: doc.status, error: doc.error, ...doc.progress });
    } catch (e) {
      entry.state.textContent = 'Could not read the progress: ' + e.message;
    }
  }

  function markStage(entry, name) {
    const li = entry.stages.querySelector('[data-stage="' + CSS.escape(name) + '"]');
    if (li) li.classList.add('done');
  }

  function describe(p) {
    switch (p.status) {
      case 'ready': return 'Ready';
      case 'failed': return 'Failed' + (p.error ? ': ' + p.error : '');
      case 'cancelled': return 'Cancelled';
      default: {
        const at = p.current_stage ? ': ' + p.current_stage : '';
        return 'Processing' + at + ' (' + p.done + ' of ' + p.total + ' stages, ' + Math.round(p.percent) + '%)';
      }
    }
  }

  function show(entry, p) {
    if (entry.terminal) return;
    entry.bar.value = p.status === 'ready' ? 100 : Math.round(p.percent || 0);
    entry.item.dataset.status = p.status;
    entry.state.textContent = describe(p);
    if (p.status !== 'processing') {
      entry.terminal = true;
      if (p.status === 'ready') {
        const link = el('a', { href: '/ui/books/' + encodeURIComponent(p.document), class: 'open' }, 'Open the book');
        entry.item.append(' ', link);
      }
    }
  }

  if (input) input.addEventListener('change', () => { addFiles(input.files); input.value = ''; });
  if (zone) {
    zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      if (e.dataTransfer && e.dataTransfer.files.length) addFiles(e.dataTransfer.files);
    });
  }

  // ----- Live progress -----

  function onMessage(p) {
    const entry = tracked.get(p.document);
    if (entry) {
      if (p.event === 'stage.completed' && p.stage) markStage(entry, p.stage);
      if (p.status === 'failed') snapshot(p.document, entry); // the message has no error text; the snapshot does
      else show(entry, p);
    }
    const card = section.querySelector('.card[data-document="' + CSS.escape(p.document) + '"] [data-role="status"]');
    if (card) {
      card.className = 'status status-' + p.status;
      card.textContent = p.status === 'processing' ? 'processing · ' + Math.round(p.percent) + '%' : p.status;
      // A finished book can no longer be cancelled: the button goes with the processing status.
      const cancel = card.parentElement.querySelector('[data-role="cancel"]');
      if (cancel && p.status !== 'processing') cancel.remove();
    }
  }

  function listen() {
    const es = new EventSource('/api/v1/projects/' + encodeURIComponent(project) + '/progress/stream');
    es.addEventListener('open', () => {
      // Anything that happened while the stream was closed is read again.
      for (const [id, entry] of tracked) if (!entry.terminal) snapshot(id, entry);
    });
    es.addEventListener('progress', (e) => onMessage(JSON.parse(e.data)));
    es.addEventListener('error', async () => {
      if (es.readyState !== EventSource.CLOSED) return; // the browser reconnects by itself
      await refreshSession();
      setTimeout(listen, 2000);
    });
  }
  listen();
})();
