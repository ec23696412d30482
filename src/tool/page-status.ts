/** What both pages (the tool and the player) share: element lookup and the status line scripts wait on. */
import { isCnnV3Error } from '../errors.js';

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** The `data-testid=status` element: `ready`, a state, or `error: …` (styled as an error). */
export const statusElement = (): HTMLElement => document.querySelector<HTMLElement>('[data-testid=status]')!;

export function setStatus(text: string, error = false): void {
  const el = statusElement();
  el.textContent = text;
  el.classList.toggle('error', error);
}

/** Shows a failure in the page (a CnnV3Error's message as it is) and keeps the page running. */
export function showError(e: unknown): void {
  console.error(e);
  setStatus(`error: ${isCnnV3Error(e) ? e.message : ((e as Error)?.message ?? String(e))}`, true);
}

/** The `data-testid=adapter` line: which GPU the page renders on. */
export function showAdapter(name: string): void {
  document.querySelector<HTMLElement>('[data-testid=adapter]')!.textContent = name;
}
