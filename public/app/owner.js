// The owner's controls in the demo app: removing a member.

import { element, report, sb, withButton } from './shared.js';

/** The owner's buttons on another member's tile. */
export function memberActions(member) {
  const kick = element('button', 'kick', 'Remove');
  kick.type = 'button';
  kick.addEventListener('click', () => withButton(kick, () => report(sb.kick(member.id))));
  return kick;
}
