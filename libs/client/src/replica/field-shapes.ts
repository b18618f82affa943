/** A trie of field-name lists: the node reached by a list's names holds its shared array. */
class ShapeNode {
  readonly next = new Map<string, ShapeNode>();
  shape: readonly string[] | undefined;
}

/**
 * One shared array per list of field names (a library has few shapes), found by walking the
 * names (no key string built per row): packed rows and compact records' kinds hold these.
 */
export class FieldShapes {
  private readonly root = new ShapeNode();

  /** The one array of these names in this order; `names` itself the first time. */
  of(names: readonly string[]): readonly string[] {
    let node = this.root;
    for (const name of names) {
      let next = node.next.get(name);
      if (next === undefined) {
        next = new ShapeNode();
        node.next.set(name, next);
      }
      node = next;
    }
    node.shape ??= names;
    return node.shape;
  }
}
