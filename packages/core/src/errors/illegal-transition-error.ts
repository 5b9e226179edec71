import { AloftError } from './aloft-error.js';

export class IllegalTransitionError extends AloftError {
  readonly from: string;
  readonly to: string;
  constructor(what: string, from: string, to: string) {
    super('ILLEGAL_TRANSITION', `${what}: cannot move from ${from} to ${to}`);
    this.from = from;
    this.to = to;
  }
}
