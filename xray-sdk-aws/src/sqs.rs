//! SQS: the trace travels with each message as the `AWSTraceHeader` message system attribute.

use std::collections::HashMap;

use aws_sdk_sqs::operation::send_message::SendMessageInput;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput;
use aws_sdk_sqs::types::{
    Message, MessageSystemAttributeName, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue,
};
use aws_smithy_runtime_api::client::interceptors::context::Input;
use xray_sdk_core::Entity;
use xray_sdk_types::TraceHeader;

use crate::message::trace_header_from_attribute;

/// Adds `AWSTraceHeader` (this call's trace header) to the messages of a `SendMessage` or `SendMessageBatch`
/// input, unless the caller already set one.
pub(crate) fn add_trace_header(input: &mut Input, entity: &Entity) {
    let Some(header) = entity.trace_header().map(|h| h.to_string()) else {
        return;
    };
    if let Some(send) = input.downcast_mut::<SendMessageInput>() {
        add_to(&mut send.message_system_attributes, &header);
    } else if let Some(batch) = input.downcast_mut::<SendMessageBatchInput>() {
        for entry in batch.entries.iter_mut().flatten() {
            add_to(&mut entry.message_system_attributes, &header);
        }
    }
}

fn add_to(
    attributes: &mut Option<
        HashMap<MessageSystemAttributeNameForSends, MessageSystemAttributeValue>,
    >,
    header: &str,
) {
    let attributes = attributes.get_or_insert_with(HashMap::new);
    if attributes.contains_key(&MessageSystemAttributeNameForSends::AwsTraceHeader) {
        return;
    }
    match MessageSystemAttributeValue::builder()
        .data_type("String")
        .string_value(header)
        .build()
    {
        Ok(value) => {
            attributes.insert(MessageSystemAttributeNameForSends::AwsTraceHeader, value);
        }
        Err(e) => log::debug!("X-Ray: AWSTraceHeader not added to an SQS message: {e}"),
    }
}

/// The trace header a received SQS message carries in its `AWSTraceHeader` system attribute, or `None` when it
/// has none or a malformed one (logged at debug level).
///
/// SQS returns the attribute only when `ReceiveMessage` asks for it
/// (`.message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)`, or `All`).
///
/// ```
/// use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
///
/// let message = Message::builder()
///     .body("hello")
///     .attributes(
///         MessageSystemAttributeName::AwsTraceHeader,
///         "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
///     )
///     .build();
/// let header = xray_sdk_aws::trace_header_of_message(&message).unwrap();
/// assert_eq!(header.root.unwrap().to_string(), "1-5759e988-bd862e3fe1be46a994272793");
/// // Continue the trace in a segment of the consumer:
/// // recorder.segment("consumer").trace_header(&header).begin();
/// ```
pub fn trace_header_of_message(message: &Message) -> Option<TraceHeader> {
    let value = message
        .attributes()?
        .get(&MessageSystemAttributeName::AwsTraceHeader)?;
    trace_header_from_attribute(value)
}
