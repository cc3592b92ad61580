/** `telemetry`: the listener for /metrics. */
import { z } from 'zod';
import { address } from '../values.ts';

export const telemetrySchema = z.object({ http: address.optional() });

export type TelemetryConfig = z.output<typeof telemetrySchema>;
