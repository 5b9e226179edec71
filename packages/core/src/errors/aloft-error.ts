/** Root of Aloft's error hierarchy; `code` is stable for programs, `message` is for people. */
export class AloftError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
