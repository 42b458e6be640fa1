"""Every sentence the offline dialogue speaks, in one place (``str.format`` fields).

Tool error messages are not here: tools return their own speakable messages
(``ToolOutcome.message``), which the policy speaks as is, then re-asks.
"""

from __future__ import annotations

from typing import Any

TEMPLATES: dict[str, str] = {
    # -- openers and small talk ---------------------------------------------------------
    "greeting": "Hi! Thanks for calling. How can I help you today?",
    "greeting.known": "Hi {first_name}, welcome back! How can I help you today?",
    "greeting.known_topic": "Hi {first_name}, welcome back! Last time we talked about {last_topic}. "
    "How can I help you today?",
    "small_talk": "I'm doing well, thanks for asking! What can I help you with today?",
    "help": "I can check an order or track a delivery, book, move or cancel an appointment, look up your "
    "account, tell you our opening hours, take your feedback, or connect you with a person. "
    "What would you like to do?",
    "anything_else": "Is there anything else I can help you with?",
    "what_else": "Sure, what can I do for you?",
    "ok_nothing_pending": "Okay. What can I help you with?",
    "thanks": "You're welcome!",
    "goodbye": "Thanks for calling{name_part}. Have a great day, goodbye!",
    # -- emotion-aware openers ------------------------------------------------------------
    "empathy.angry": "I'm really sorry about the trouble, and I want to get this sorted for you.",
    "empathy.frustrated": "I understand, that's frustrating. Let's fix it.",
    "empathy.sad": "I'm sorry to hear that.",
    "empathy.confused": "No problem, let's take it one step at a time.",
    "offer_human": "If you'd rather talk to a person, just say so and I'll connect you.",
    # -- slot questions -------------------------------------------------------------------------
    "ask.order_id": "What's your order number? You can also type it on your keypad.",
    "ask.date": "What day would you like?",
    "ask.time": "What time works for you?",
    "ask.time_after_suggestions": "Which of those works for you?",
    "ask.name": "And what name should I put the appointment under?",
    "ask.purpose": "What is the appointment for?",
    "ask.confirmation_number": "What's the confirmation number? "
    "It starts with A P T, followed by six digits.",
    "ask.new_date": "What day would you like to move it to?",
    "ask.identifier": "What's the phone number or email address on the account?",
    "ask.rating": "On a scale of 1 to 5, how would you rate your experience today? You can press a key too.",
    "ask.comment": "Thank you. Is there anything you'd like to add about your experience?",
    "not_understood": "Sorry, I didn't catch that.",
    "say_again": "Could you say that again?",
    # -- confirmations (actions that change data) -------------------------------------------------
    "confirm.schedule_appointment": "{spoken_date} at {spoken_time} for {purpose}, under the name {name}. "
    "Shall I book it?",
    "confirm.cancel_appointment": "Just to confirm: you'd like to cancel appointment {spoken_confirmation}?",
    "confirm.reschedule_appointment": "So that's moving appointment {spoken_confirmation} to {spoken_date} "
    "at {spoken_time}. Shall I go ahead?",
    "confirm.yes_no_keys": "Please say yes or no, or press 1 for yes and 2 for no.",
    "declined.schedule_appointment": "No problem, I haven't booked anything.",
    "declined.cancel_appointment": "Okay, I'll leave your appointment as it is.",
    "declined.reschedule_appointment": "Okay, your appointment stays as it was.",
    "task_dropped": "Okay, let's leave that.",
    # -- results ------------------------------------------------------------------------------------
    "order.processing": "Order {spoken_order_id} is being processed and hasn't shipped yet. "
    "Expected delivery is {spoken_eta}.",
    "order.shipped": "Order {spoken_order_id} has shipped with {carrier} and should arrive {spoken_eta}.",
    "order.in transit": "Order {spoken_order_id} is on its way with {carrier} "
    "and should arrive {spoken_eta}.",
    "order.delivered": "Order {spoken_order_id} was delivered on {spoken_delivered_on}.",
    "order.cancelled": "Order {spoken_order_id} was cancelled. If that's unexpected, I can connect you "
    "with someone.",
    "track.tracking": " The {carrier} tracking number ends in {tracking_last4}.",
    "booked": "You're all set for {purpose}, {spoken_date} at {spoken_time}. "
    "Your confirmation number is {spoken_confirmation_number}.",
    "cancelled": "Done. Your appointment {spoken_date} at {spoken_time} is cancelled.",
    "rescheduled": "Done. Your appointment is moved from {old_spoken} to {spoken_date} at {spoken_time}. "
    "Your confirmation number stays {spoken_confirmation_number}.",
    "transferred": "I'm transferring you to {department_name}. You're number {queue_position} in line, "
    "with a wait of {spoken_wait}. Please hold.",
    "account": "I found the account for {name}, a {tier} member with {order_count} {orders_word}.",
    "account.recent": " Your most recent order, {spoken_order_id}, is {status}.",
    "hours.day_open": "On {day}, our {department_name} team is open from {spoken_open} to {spoken_close}.",
    "hours.day_closed": "Our {department_name} team is closed on {day}s. Hours are {spoken_hours}.",
    "hours.open": "Our {department_name} team is open right now, until {spoken_closes_at}. "
    "Hours are {spoken_hours}.",
    "hours.closed": "Our {department_name} team is closed right now. We open {spoken_opens_at}. "
    "Hours are {spoken_hours}.",
    "feedback.thanks": "Thank you for rating us {rating} out of 5{comment_part}. It really helps us improve.",
    # -- knowledge and fallbacks ----------------------------------------------------------------------
    "knowledge.answer": "{answer}",
    "knowledge.unknown": "I'm not sure about that one. I can connect you with someone who knows, "
    "or help with orders, appointments and your account.",
    "fallback": "Sorry, I can't help with that. I can check orders, manage appointments, look up your "
    "account or tell you our hours.",
    "fallback.offer_human": "Sorry, I'm still not able to help with that. Would you like me to connect you "
    "with a person?",
    "too_many_attempts": "I'm having trouble with that. Would you like me to connect you with someone "
    "who can help?",
    "resume": "Now, back to your request. {question}",
}


def render(key: str, **values: Any) -> str:
    """The template ``key`` filled with ``values`` (whitespace tidied)."""
    return " ".join(TEMPLATES[key].format(**values).split())


def join(*parts: str) -> str:
    """Sentences into one reply, skipping empty parts."""
    return " ".join(p.strip() for p in parts if p and p.strip())
