/*
 * V8 allocates a string over its regular-object limit (128 KiB) in large-object space, on fresh
 * pages each time: for a body of a few hundred kilobytes that allocation costs more than the work
 * on the text. Bodies are therefore built, parsed and decoded in pieces of TEXT_PIECE_SIZE
 * characters or bytes, which stay regular young-generation strings even as UTF-16.
 */

/** Characters (or bytes of UTF-8) handled together where a body is cut into pieces. */
export const TEXT_PIECE_SIZE = 32 * 1024;

/**
 * Joins texts into pieces of at least `pieceChars` characters (the last one shorter), handing
 * each piece to `emit` as soon as it is that long, so no text the size of the whole is built.
 */
export class TextPieces {
  private piece = '';

  constructor(
    private readonly emit: (piece: string) => void,
    private readonly pieceChars = TEXT_PIECE_SIZE,
  ) {}

  add(text: string): void {
    this.piece += text;
    if (this.piece.length >= this.pieceChars) {
      this.emit(this.piece);
      this.piece = '';
    }
  }

  /** Hands over what is left, if anything. */
  finish(): void {
    if (this.piece.length > 0) this.emit(this.piece);
    this.piece = '';
  }
}
