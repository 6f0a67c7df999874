import { Type, type Static } from '@sinclair/typebox';

/** The one error envelope every non-OTLP route answers with. */
export const ErrorEnvelope = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable code, LOUPE_ERR_*' }),
    error: Type.String({ description: 'HTTP status text' }),
    message: Type.String({ description: 'What was wrong, for humans' }),
    requestId: Type.String(),
  },
  { $id: 'ErrorEnvelope' },
);
export type ErrorEnvelope = Static<typeof ErrorEnvelope>;

export const Uuid = Type.String({ format: 'uuid' });
export const IsoTime = Type.String({ format: 'date-time' });
export const JsonAny = Type.Unknown();
export const JsonRecord = Type.Record(Type.String(), Type.Unknown());
