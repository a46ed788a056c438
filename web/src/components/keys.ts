// Keyboard navigation for lists and tables: ↑/↓ (and j/k), Home/End move focus between the
// rows' links; Enter follows the focused link as usual.
export function listKeys(e: KeyboardEvent): void {
  const keys = ['ArrowDown', 'ArrowUp', 'Home', 'End', 'j', 'k'];
  if (!keys.includes(e.key) || e.altKey || e.ctrlKey || e.metaKey) return;
  const root = e.currentTarget as HTMLElement;
  const links = [...root.querySelectorAll<HTMLElement>('[data-row-link]')];
  if (links.length === 0) return;
  const i = links.indexOf(document.activeElement as HTMLElement);
  let next = i;
  if (e.key === 'ArrowDown' || e.key === 'j') next = i < 0 ? 0 : Math.min(links.length - 1, i + 1);
  else if (e.key === 'ArrowUp' || e.key === 'k') next = i < 0 ? 0 : Math.max(0, i - 1);
  else if (e.key === 'Home') next = 0;
  else if (e.key === 'End') next = links.length - 1;
  e.preventDefault();
  links[next]?.focus();
}
