/** The part of jsfive (a pure-JavaScript HDF5 reader, no bundled types) that hdf5-file.ts uses. */
declare module 'jsfive' {
  export class File {
    constructor(buffer: ArrayBuffer, filename: string);
    readonly keys: string[];
    readonly attrs: Record<string, unknown>;
    get(path: string): unknown;
  }
}
