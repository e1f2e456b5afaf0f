import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { peerResourceName, QUEUE_NAMES, type PeerQueueName } from './names';

/**
 * A peer's inboxes on SQS: `sync` (step-ready / removed / admitted from the other peers) and the join
 * handshake's `join-requests` and `credentials`, each with a dead-letter queue, all encrypted with the
 * peer's own key.
 *
 * Standard queues, not FIFO: delivery is at least once and unordered, which the protocol already
 * handles. Every message is a signed envelope with a 128-bit nonce; the receiver refuses a nonce it has
 * seen (and anything older than the 60 s freshness window), and sync votes count once per sender and
 * step, so a duplicate changes nothing. FIFO would add ordering the protocol does not need (messages from
 * different senders have no order) and cap throughput per message group.
 */
export class PeerQueues extends Construct {
  readonly queues: Record<PeerQueueName, sqs.Queue>;
  readonly deadLetterQueues: Record<PeerQueueName, sqs.Queue>;

  constructor(scope: Construct, id: string, props: { network: string; peer: string; key: kms.IKey }) {
    super(scope, id);
    const queues: Partial<Record<PeerQueueName, sqs.Queue>> = {};
    const dlqs: Partial<Record<PeerQueueName, sqs.Queue>> = {};
    for (const name of QUEUE_NAMES) {
      const common = {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: props.key,
        // One data key per 5 minutes instead of a KMS call per message (KMS requests cost).
        dataKeyReuse: Duration.minutes(5),
        enforceSSL: true,
        removalPolicy: RemovalPolicy.DESTROY,
      };
      const dlq = new sqs.Queue(this, `${name}-dlq`, {
        ...common,
        queueName: peerResourceName(props.network, props.peer, `${name}-dlq`),
        retentionPeriod: Duration.days(14),
      });
      queues[name] = new sqs.Queue(this, name, {
        ...common,
        queueName: peerResourceName(props.network, props.peer, name),
        // A message is handled in well under a second; 30 s leaves room for a slow Redis write.
        visibilityTimeout: Duration.seconds(30),
        // Messages older than the 60 s freshness window are refused anyway; an hour leaves time to look.
        retentionPeriod: Duration.hours(1),
        receiveMessageWaitTime: Duration.seconds(20),
        deadLetterQueue: { queue: dlq, maxReceiveCount: 5 },
      });
      dlqs[name] = dlq;
    }
    this.queues = queues as Record<PeerQueueName, sqs.Queue>;
    this.deadLetterQueues = dlqs as Record<PeerQueueName, sqs.Queue>;
  }
}
