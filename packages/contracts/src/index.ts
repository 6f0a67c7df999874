export { ErrorEnvelope, IsoTime, JsonAny, JsonRecord, Uuid } from './common.schemas.js';
export {
  FeedbackCreate,
  FeedbackItem,
  Project,
  ProjectList,
  ProjectStats,
  ProjectStatsQuery,
  RUN_TYPES,
  RunDetail,
  RunListQuery,
  RunListResponse,
  RunStatus,
  RunSummary,
  RunType,
  TraceNode,
  TraceResponse,
} from './runs.schemas.js';
