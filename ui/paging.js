/* SPDX-License-Identifier: Apache-2.0 */
// Paged lists (registry entries, recorded verifications, stored policies): a stack of
// cursors, only the answer of a list's latest request shown (a filter changed twice, a page
// turned while the last one loads), and the keyboard's focus kept on the pager after a page
// turn (the list and its pager are drawn anew). A load that fails leaves the list where it
// was and puts a Retry button under the error.
import { h } from './dom.js';

// A list's state: the cursor of each page shown so far (the first: 0), the latest request,
// and how the user last moved ('prev', 'next', 'retry'; '' = not by the pager) until the
// answer's pager takes the focus.
export function state(extra = {}) {
  return { cursors: [0], seq: 0, turned: '', ...extra };
}

// Starts a load of `s`: a ticket that is still current() when no later load began.
export function begin(s) {
  s.seq += 1;
  return s.seq;
}

export function current(s, ticket) {
  return ticket === s.seq;
}

// Back to the first page (a new filter); a turn still loading no longer takes the focus.
export function restart(s) {
  s.cursors = [0];
  s.turned = '';
}

// The cursor a load of the page `cursors` (a stack like s.cursors) starts from.
export function cursorOf(cursors) {
  return cursors[cursors.length - 1];
}

// A load of the page `cursors` answered: it is the page shown from now on.
export function shown(s, cursors) {
  s.cursors = cursors;
}

// The pager under a page of `what`: `next` is the page's cursor to the following one (none:
// the last page), `reload(cursors)` draws the list's page `cursors`. The page shown changes
// only once the new one has come (shown()). A button is disabled once pressed, so a double
// click turns one page; after a turn the new pager's button of that direction (or the other
// one, at an end) takes the focus.
export function pager(s, next, reload, what) {
  const page = s.cursors.length;
  const turn = (dir) => (ev) => {
    ev.currentTarget.disabled = true;
    s.turned = dir;
    reload(dir === 'prev' ? s.cursors.slice(0, -1) : [...s.cursors, next]);
  };
  const prev = h('button', { type: 'button', disabled: page <= 1, on: { click: turn('prev') } }, '← Previous');
  const label = h('span.muted', { tabindex: '-1' }, ` page ${page} `);
  const nxt = h('button', { type: 'button', disabled: !Number.isInteger(next) || next <= 0, on: { click: turn('next') } }, 'Next →');
  const nav = h('nav.pager', { 'aria-label': `Pages of ${what}` }, prev, label, nxt);
  if (s.turned) {
    const order = s.turned === 'prev' ? [prev, nxt] : [nxt, prev];
    s.turned = '';
    // once the caller has put the pager in the page
    queueMicrotask(() => (order.find((b) => !b.disabled) || label).focus());
  }
  return nav;
}

// What goes under the error of a failed load of `what`: a Retry button, `reload()` loading
// the page that failed again. The page shown stays the one before (a turn that failed is not
// made); when the pager had the focus, Retry takes it.
export function retry(s, reload, what) {
  const had = s.turned;
  s.turned = '';
  const btn = h('button', {
    type: 'button',
    on: {
      click: (ev) => {
        ev.currentTarget.disabled = true;
        s.turned = 'retry';
        reload();
      },
    },
  }, 'Retry', h('span.visually-hidden', null, ` loading ${what}`));
  if (had) queueMicrotask(() => btn.focus());
  return h('nav.pager', { 'aria-label': `Pages of ${what}` }, btn);
}
