// The `diamonds webhooks …` commands' one-line summaries, apart from the commands themselves: `diamonds --help` lists them
// without loading the code (and the platform) the commands run.

/** One-line summaries for the CLI's help, by command name. */
export const WEBHOOK_COMMAND_SUMMARIES = {
  'webhooks list': 'List a site’s webhook endpoints: --site SITE_ID.',
  'webhooks add':
    'Add an endpoint: --site SITE_ID --url URL [--events order.paid,order.refunded] [--description TEXT]; prints its secret once.',
  'webhooks remove': 'Delete an endpoint and its delivery log: --site SITE_ID --endpoint WE_ID.',
  'webhooks enable': 'Enable an endpoint again (clears its failure record): --site SITE_ID --endpoint WE_ID.',
  'webhooks disable': 'Stop sending to an endpoint (deliveries wait): --site SITE_ID --endpoint WE_ID.',
  'webhooks roll-secret': 'Give an endpoint a new secret; the old one also signs for 24 h: --site SITE_ID --endpoint WE_ID.',
  'webhooks deliveries': 'An endpoint’s latest deliveries: --site SITE_ID --endpoint WE_ID [--limit N].',
  'webhooks replay': 'Send events again: --site SITE_ID --endpoint WE_ID (--event EVT_ID | --since ISO_TIME).',
  'webhooks test': 'Send a webhook.test event to an endpoint through the real pipeline: --site SITE_ID --endpoint WE_ID.',
} as const;

/** A webhook command's name. */
export type WebhookCommand = keyof typeof WEBHOOK_COMMAND_SUMMARIES;
