import { describe, expect, it } from 'vitest';
import { applySpec } from '../../../../src/config/config-spec.js';
import { outputType } from '../../../../outputs/output-registry.js';
import { kafkaUrlToConfig } from '../../../../outputs/kafka/index.js';

describe('kafka output registration', () => {
  it('validates a section with the shared field specs and builds the driver from it', async () => {
    const def = outputType('kafka')!;
    expect(def.kind).toBe('queued');
    const cfg = applySpec(def.fields, { name: 'siem', brokers: ['127.0.0.1:9092'] }, 'outputs[0]');
    expect(cfg).toMatchObject({ topic: 'lkrg-{dataset}', value_format: 'ecs_json', compression: 'gzip', acks: -1, request_timeout_ms: 30_000 });
    const driver = await def.createDriver!(cfg, 'siem');
    expect(driver).toMatchObject({ name: 'siem', type: 'kafka', maxInFlight: 1 });
    expect(() => applySpec(def.fields, { brokers: ['a:1'], acks: 1 }, 'outputs[0]')).toThrow(/acks/);
  });

  it('turns --output URLs into sections', () => {
    expect(kafkaUrlToConfig(new URL('kafka://127.0.0.1:9092/lkrg-{dataset}'), 'ecs')).toEqual({
      type: 'kafka',
      brokers: ['127.0.0.1:9092'],
      topic: 'lkrg-{dataset}',
      value_format: 'ecs_json',
    });
    expect(kafkaUrlToConfig(new URL('kafka+ssl://k.example:9093'), 'cef')).toEqual({
      type: 'kafka',
      brokers: ['kafka+ssl://k.example:9093'],
      topic: 'lkrg-{dataset}',
      value_format: 'cef',
    });
  });
});
