/**
 * outputs/kafka/kafkajs-partition-grouping.ts: the linear grouping gives exactly what kafkajs's
 * own function gives (property test against the original source), and loading the kafka output
 * in a fresh process puts it where kafkajs's producer requires it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileFunction } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupMessagesPerPartition, kafkajsGroupingPath, type GroupingArgs } from '../../../../outputs/kafka/kafkajs-partition-grouping.js';

const root = join(import.meta.dirname, '..', '..', '..', '..');

/** kafkajs's own function, compiled from its source file (not through the module cache). */
function originalGrouping(): (args: GroupingArgs<unknown>) => Record<number, unknown[]> {
  const path = kafkajsGroupingPath();
  expect(path, 'kafkajs layout').not.toBeNull();
  const module = { exports: {} as unknown };
  compileFunction(readFileSync(path!, 'utf8'), ['module', 'exports', 'require'])(module, module.exports, () => {
    throw new Error('the original requires nothing');
  });
  return module.exports as (args: GroupingArgs<unknown>) => Record<number, unknown[]>;
}

describe('kafkajs partition grouping', () => {
  it('equals kafkajs 2.2.4 groupMessagesPerPartition on any messages and partitioner answers', () => {
    const original = originalGrouping();
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.string({ maxLength: 4 }), partition: fc.integer({ min: 0, max: 7 }) }), { maxLength: 200 }),
        fc.integer({ min: 0, max: 8 }),
        (messages, partitions) => {
          const args: GroupingArgs<{ key: string; partition: number }> = {
            topic: 't',
            partitionMetadata: Array.from({ length: partitions }, (_, i) => ({ partitionId: i })),
            messages,
            partitioner: ({ message }) => message.partition,
          };
          const ours = groupMessagesPerPartition(args);
          expect(ours).toEqual(original(args as GroupingArgs<unknown>));
          // every message once, in order within its partition
          for (const [p, list] of Object.entries(ours)) expect(list).toEqual(messages.filter((m) => String(m.partition) === p));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is what kafkajs requires once the kafka output is loaded first', () => {
    const script = `
      import { createRequire } from 'node:module';
      const g = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'outputs', 'kafka', 'kafkajs-partition-grouping.js')).href)});
      await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'outputs', 'kafka', 'kafka-output.js')).href)});
      const path = g.kafkajsGroupingPath();
      const cached = createRequire(path).cache[path];
      console.log(JSON.stringify({ replaced: g.groupingReplaced, same: cached?.exports === g.groupMessagesPerPartition, producerLoaded: Object.keys(createRequire(path).cache).some((k) => k.endsWith('/src/producer/sendMessages.js')) }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ replaced: true, same: true, producerLoaded: true });
  });
});
