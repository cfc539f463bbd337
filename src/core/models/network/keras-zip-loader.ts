import { loadFailed } from '../model-errors';
import { readArtefact } from './artefact-file';
import { openHdf5 } from './hdf5-file';
import { kerasMajor, normaliseKerasModel, parseModelConfig } from './keras-model-config';
import { kerasZipWeights } from './keras-zip-weights';
import { buildLayersNetwork } from './layers-network';
import type { Network, NetworkLoader, NetworkLoadOptions } from './types';
import { ZipArchive } from './zip-archive';

/**
 * Keras 3 `.keras` files (a zip of `config.json`, `metadata.json` and `model.weights.h5`, whose
 * weights sit under `layers/<object path>/vars/<i>`; see keras-zip-weights.ts).
 */
export class KerasZipLoader implements NetworkLoader {
  readonly format = 'keras-zip' as const;

  accepts(_dir: string, file: string): boolean {
    return /\.keras$/i.test(file);
  }

  async load(dir: string, file: string, options: NetworkLoadOptions = {}): Promise<Network> {
    const zip = ZipArchive.open(await readArtefact(dir, file), file);
    const member = (name: string): Buffer => {
      const bytes = zip.read(name);
      if (!bytes) throw loadFailed(file, `the archive has no ${name} (not a Keras 3 .keras file?)`);
      return bytes;
    };
    let version: unknown;
    const metadata = zip.read('metadata.json');
    if (metadata) {
      try {
        version = (JSON.parse(metadata.toString('utf8')) as { keras_version?: unknown }).keras_version;
      } catch {
        throw loadFailed(file, 'is not valid JSON', 'metadata.json');
      }
    }
    const src = { file, field: 'config.json', kerasMajor: kerasMajor(version) ?? 3 };
    const config = parseModelConfig(member('config.json').toString('utf8'), src);
    const topology = normaliseKerasModel(config, src);
    const h5 = openHdf5(member('model.weights.h5'), file, 'model.weights.h5');
    const weights = kerasZipWeights(h5, config, file);
    return buildLayersNetwork(topology, weights, {
      ...options,
      format: this.format,
      file,
      field: 'config.json',
      weightsField: 'model.weights.h5',
      writtenBy: typeof version === 'string' ? `keras ${version}` : undefined,
    });
  }
}
