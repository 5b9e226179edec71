import { AloftError } from './aloft-error.js';

/** A DAG file that cannot be imported, naming the file, line and field at fault. */
export class DagImportError extends AloftError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly field: string | undefined;
  /** The message without the file and line in front, for whoever shows those apart. */
  readonly detail: string;
  constructor(opts: { message: string; file?: string | undefined; line?: number | undefined; field?: string | undefined }) {
    const where = opts.file ? `${opts.file}${opts.line ? `:${opts.line}` : ''}: ` : '';
    super('DAG_IMPORT', `${where}${opts.message}`);
    this.file = opts.file;
    this.line = opts.line;
    this.field = opts.field;
    this.detail = opts.message;
  }
}
