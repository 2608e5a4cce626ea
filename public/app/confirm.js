// The in-page confirmation of what cannot be undone: a modal <dialog> (#confirm-dialog)
// with a Cancel and a confirm button. Unlike window.confirm(), it leaves the page running
// (pushes keep arriving), matches the app's look, and is reached like any other button.

import { $ } from './shared.js';

/**
 * Asks `message`, the confirm button reading `confirmLabel`. Resolves to true when the
 * user confirms; false on Cancel, Escape, or when the question no longer applies
 * (`dismissConfirm`). Cancel has the focus: Enter alone does not confirm.
 */
export function askConfirm(message, confirmLabel) {
  const dialog = $('confirm-dialog');
  $('confirm-message').textContent = message;
  $('confirm-ok').textContent = confirmLabel;
  dialog.returnValue = ''; // Escape closes without setting it
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
  });
}

/** Closes an open confirmation as cancelled: what it asked about is over anyway. */
export function dismissConfirm() {
  const dialog = $('confirm-dialog');
  if (dialog.open) dialog.close('');
}
