/**
 * The overlay page's script (served at `/live/overlay.js`, from our origin: the page allows no
 * inline script). It reads its settings from the body's `data-*` attributes and listens to the
 * creator's stream (`data-stream`) with `EventSource`, which reconnects by itself with
 * `Last-Event-ID`.
 *
 * @remarks
 * - One alert at a time, from a queue: each shows for `data-duration` ms, then a gap of
 *   `data-gap` ms. A gift that continues a combo (the server's count: same gift and fan name,
 *   a higher count) updates the alert on screen, or the one waiting in the queue, and the
 *   alert on screen starts its time again.
 * - The sound is ours: a three-note chime synthesised with WebAudio at run time (no file).
 *   OBS plays it; a browser may hold it until the page is clicked (the preview says so).
 * - With `data-speech="on"`, the browser's speech synthesis reads the message (moderation
 *   already removed a hidden one on the server).
 * - The goal bar follows `event: goal`; its width is set through the CSSOM.
 * - When the stream is refused for good, the script asks the page's own URL: 410 (the URL was
 *   replaced) reloads it, so the "replaced" page shows; anything else retries in 5 s.
 * - Counters on the body (`data-shown`, `data-chimes`, `data-spoken`) let tests see what played.
 */
export const OVERLAY_SCRIPT = `"use strict";
(() => {
  const body = document.body;
  const config = body.dataset;
  const durationMs = Number(config.duration) || 6000;
  const gapMs = Number(config.gap) || 0;
  const $ = (id) => document.getElementById(id);
  const box = $('alert');
  const art = $('alert-art');
  const fan = $('alert-fan');
  const gift = $('alert-gift');
  const combo = $('alert-combo');
  const message = $('alert-message');
  const number = new Intl.NumberFormat('en-US');
  const count = (name) => { body.dataset[name] = String(Number(body.dataset[name] || 0) + 1); };
  const queue = [];
  let current = null;
  let busy = false;

  // A later gift of the same combo: same gift, same name shown, a higher count.
  const continues = (shown, item) =>
    !item.test && !shown.test && item.combo > 1 && item.combo > shown.combo &&
    item.giftTypeId === shown.giftTypeId && item.fanName === shown.fanName;

  let audio = null;
  function chime() {
    if (config.sound !== 'on') return;
    count('chimes');
    try {
      audio = audio || new AudioContext();
      if (audio.state === 'suspended') audio.resume().catch(() => {});
      const start = audio.currentTime + 0.02;
      [[659.25, 0], [987.77, 0.11], [1318.51, 0.22]].forEach(([frequency, delay]) => {
        const oscillator = audio.createOscillator();
        const gain = audio.createGain();
        oscillator.type = 'sine';
        oscillator.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, start + delay);
        gain.gain.exponentialRampToValueAtTime(0.22, start + delay + 0.015);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + delay + 0.9);
        oscillator.connect(gain).connect(audio.destination);
        oscillator.start(start + delay);
        oscillator.stop(start + delay + 1);
      });
    } catch {
      // No audio here: the alert still shows.
    }
  }
  addEventListener('pointerdown', () => { if (audio) audio.resume().catch(() => {}); else if (config.sound === 'on') audio = new AudioContext(); });

  function speak(item) {
    if (config.speech !== 'on' || !item.message || !('speechSynthesis' in window)) return;
    count('spoken');
    try {
      speechSynthesis.speak(new SpeechSynthesisUtterance(item.fanName + ' says: ' + item.message));
    } catch {
      // No voice here.
    }
  }

  function renderCombo(item, bump) {
    combo.textContent = item.combo > 1 ? '×' + item.combo : '';
    combo.classList.remove('bump');
    if (bump) { void combo.offsetWidth; combo.classList.add('bump'); }
    box.dataset.combo = String(item.combo);
  }

  function show(item) {
    busy = true;
    current = { item, timer: 0 };
    count('shown');
    art.src = item.artUrl;
    fan.textContent = item.fanName;
    gift.textContent = item.quantity > 1 ? item.quantity + ' × ' + item.giftName : item.giftName;
    renderCombo(item, false);
    message.textContent = item.message || '';
    message.hidden = !item.message;
    box.dataset.animation = item.animation;
    box.classList.toggle('test', Boolean(item.test));
    box.classList.remove('out', 'in');
    box.hidden = false;
    void box.offsetWidth;
    box.classList.add('in');
    chime();
    speak(item);
    current.timer = setTimeout(hide, durationMs);
  }

  function hide() {
    current = null;
    box.classList.remove('in');
    box.classList.add('out');
    setTimeout(() => {
      box.hidden = true;
      box.classList.remove('out');
      setTimeout(() => { busy = false; next(); }, gapMs);
    }, 400);
  }

  function next() {
    if (!busy && queue.length > 0) show(queue.shift());
  }

  function onGift(item) {
    if (current && continues(current.item, item)) {
      Object.assign(current.item, { combo: item.combo, quantity: item.quantity, message: item.message || current.item.message });
      renderCombo(current.item, true);
      clearTimeout(current.timer);
      current.timer = setTimeout(hide, durationMs);
      return;
    }
    for (let i = queue.length - 1; i >= 0; i--) {
      if (continues(queue[i], item)) {
        Object.assign(queue[i], { combo: item.combo, quantity: item.quantity, message: item.message || queue[i].message });
        return;
      }
    }
    queue.push(item);
    next();
  }

  function onGoal(goal) {
    if (config.goalBar !== 'on') return;
    const percent = Math.max(0, Math.min(100, Math.floor((goal.progressDiamonds * 100) / goal.targetDiamonds)));
    $('goal-title').textContent = goal.title;
    $('goal-count').textContent = number.format(goal.progressDiamonds) + ' / ' + number.format(goal.targetDiamonds);
    $('goal-fill').style.width = percent + '%';
    $('goal-bar').setAttribute('aria-valuenow', String(percent));
    $('goal').classList.toggle('reached', goal.reachedAt !== null);
    $('goal').hidden = false;
  }

  function connect() {
    const source = new EventSource(config.stream);
    source.addEventListener('open', () => { body.dataset.connected = 'on'; });
    source.addEventListener('gift', (event) => onGift(JSON.parse(event.data)));
    source.addEventListener('goal', (event) => onGoal(JSON.parse(event.data)));
    source.addEventListener('error', () => {
      body.dataset.connected = 'off';
      if (source.readyState !== EventSource.CLOSED) return;
      fetch(location.href, { cache: 'no-store' })
        .then((response) => { if (response.status === 410) location.reload(); else setTimeout(connect, 5000); })
        .catch(() => setTimeout(connect, 5000));
    });
  }

  if (config.preview === 'on') {
    // A sample of what a fan's gift looks like, its combo growing, before any real one.
    const sample = {
      giftTypeId: 'star', giftName: 'Star', artUrl: '/gifts/star.svg', animation: 'spin', quantity: 1,
      combo: 1, fanName: 'A fan', message: 'This is how an alert looks on your stream.', test: false,
    };
    onGift(sample);
    setTimeout(() => onGift(Object.assign({}, sample, { combo: 2 })), 1200);
    setTimeout(() => onGift(Object.assign({}, sample, { combo: 3 })), 2400);
  }
  connect();
})();
`;
