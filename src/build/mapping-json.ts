/**
 * Build step (`npm run build`): writes the JSON form of the YAML mapping tables into
 * dist/mappings-json/, which the mapping loader reads instead of parsing YAML when the YAML
 * text is unchanged (see writeMappingJson). Exits non-zero only on I/O errors.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultMappingsDir, MAPPING_YAML_FILES, writeMappingJson } from '../normalize/mapping-loader.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'mappings-json');
const written = writeMappingJson(defaultMappingsDir(), out);
const skipped = MAPPING_YAML_FILES.filter((n) => !written.includes(n));
process.stdout.write(
  `mappings: JSON form of ${written.join(', ') || 'no table'} in ${out}` +
    (skipped.length ? `; not for ${skipped.join(', ')} (parsed from YAML at load)` : '') +
    '\n',
);
