/* SPDX-License-Identifier: Apache-2.0 */
// Paged lists (registry entries, recorded verifications, stored policies): a stack of
// cursors, only the answer of a list's latest request shown (a filter changed twice, a page
// turned while the last one loads), and the keyboard's focus kept on the pager after a page
// turn (the list and its pager are drawn anew).
import { h } from './dom.js';

// A list's state: the cursor of each page shown so far (the first: 0), the latest request.
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

// Back to the first page (a new filter).
export function restart(s) {
  s.cursors = [0];
}

// The pager under a page of `what`: `next` is the page's cursor to the following one (none:
// the last page), `reload` draws the list again. A button is disabled once pressed, so a
// double click turns one page; after a turn the new pager's button of that direction (or the
// other one, at an end) takes the focus.
export function pager(s, next, reload, what) {
  const page = s.cursors.length;
  const turn = (dir) => (ev) => {
    ev.currentTarget.disabled = true;
    if (dir === 'prev') s.cursors.pop();
    else s.cursors.push(next);
    s.turned = dir;
    reload();
  };
  const prev = h('button', { type: 'button', disabled: page <= 1, on: { click: turn('prev') } }, '← Previous');
  const nxt = h('button', { type: 'button', disabled: !Number.isInteger(next) || next <= 0, on: { click: turn('next') } }, 'Next →');
  const nav = h('nav.pager', { 'aria-label': `Pages of ${what}` }, prev, h('span.muted', null, ` page ${page} `), nxt);
  if (s.turned) {
    const [want, other] = s.turned === 'next' ? [nxt, prev] : [prev, nxt];
    s.turned = '';
    // once the caller has put the pager in the page
    queueMicrotask(() => (want.disabled ? other : want).focus());
  }
  return nav;
}
