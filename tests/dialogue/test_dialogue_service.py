"""Scripted calls: orders, accounts, hours, transfers, feedback, goodbye; keypad input; emotion; fallbacks."""

from __future__ import annotations

from datetime import datetime

from tests.dialogue.dialogue_helpers import TZ, FixedNow, converse, keys, make_policy, said
from voiceflow.db import Database

ANYTHING_ELSE = "Is there anything else I can help you with?"


async def test_check_order_asks_for_the_number_and_takes_it_from_the_keypad(
    db: Database, now: FixedNow
) -> None:
    call = await converse(
        make_policy(db, now),
        said("check_order", "where is my order"),
        keys("9999"),
        keys("1*1002"),  # a slip, cleared with *, then the number
    )
    assert call.replies == [
        "What's your order number? You can also type it on your keypad.",
        "I couldn't find order 9 9 9 9. Could you check the number for me?",
        "Order 1 0 0 2 is on its way with FedEx and should arrive Wednesday, December 3rd. " + ANYTHING_ELSE,
    ]
    assert call.calls == [
        ("check_order_status", {"order_id": "9999"}),
        ("check_order_status", {"order_id": "1002"}),
    ]
    assert [r.status for r in call.results] == ["error", "done"]


async def test_order_statuses_and_tracking_follow_up(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("check_order", "status of order 1001", order_id="1001"),
        said("check_order", "and 1003?", order_id="1003"),
        said("check_order", "what about 1005", order_id="1005"),
        said("track_delivery", "and where is 1004", order_id="1004"),
        said("track_delivery", "can I get the tracking number for that one"),
    )
    assert call.replies[0].startswith(
        "Order 1 0 0 1 is being processed and hasn't shipped yet. Expected delivery is"
    )
    assert call.replies[1].startswith("Order 1 0 0 3 was cancelled.")
    assert call.replies[2].startswith("Order 1 0 0 5 was delivered on")
    assert "The UPS tracking number ends in" in call.replies[3]
    assert call.calls[-1] == ("check_order_status", {"order_id": "1004"})  # remembered from the last turn


async def test_keypad_order_number_when_idle_and_zero_for_an_operator(db: Database, now: FixedNow) -> None:
    call = await converse(make_policy(db, now), keys("1002"), keys("0"))
    assert call.replies[0].startswith("Order 1 0 0 2 is on its way")
    assert call.replies[1].startswith("I'm transferring you to customer service. You're number 1 in line")
    assert call.tools == ["check_order_status", "transfer_to_human"]


async def test_account_lookup_retries_until_found(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("account_lookup", "can you look up my account"),
        said("out_of_scope", "it's 555 000 0000", phone="+15550000000"),
        said("out_of_scope", "try aisha.khan@example.com", email="aisha.khan@example.com"),
        said("greeting", "thanks, hello again"),
    )
    assert call.replies[:3] == [
        "What's the phone number or email address on the account?",
        "I couldn't find an account with that. Could you try the phone number or email on the account?",
        "I found the account for Aisha Khan, a platinum member with 3 orders. Your most recent order, "
        + call.replies[2].split("Your most recent order, ")[1],
    ]
    assert call.replies[3] == "Hi Aisha, welcome back! How can I help you today?"  # the name is now known


async def test_business_hours_now_and_as_a_side_question_mid_booking(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("schedule_appointment", "book an appointment on Thursday", date="2025-12-04"),
        said("business_hours", "wait, when is billing open?"),
        said("out_of_scope", "noon", time="12:00"),
    )
    assert call.replies == [
        "What time works for you?",
        "Our billing team is open right now, until 5 PM. Hours are Monday to Friday 9 AM to 5 PM. "
        "Now, back to your request. What time works for you?",
        "And what name should I put the appointment under?",
    ]
    assert call.calls == [("get_business_hours", {"department": "billing"})]


async def test_business_hours_when_closed(db: Database, now: FixedNow) -> None:
    now.moment = datetime(2025, 12, 6, 18, 30, tzinfo=TZ)  # Saturday evening
    call = await converse(make_policy(db, now), said("business_hours", "are you open?"))
    assert call.replies == [
        "Our customer service team is closed right now. We open on Monday, December 8th at 8 AM. "
        "Hours are Monday to Friday 8 AM to 8 PM and Saturday 9 AM to 5 PM. " + ANYTHING_ELSE
    ]


async def test_transfer_to_a_department_and_when_it_is_closed(db: Database, now: FixedNow) -> None:
    open_call = await converse(
        make_policy(db, now),
        said("transfer_to_human", "let me talk to someone about a refund"),
    )
    assert open_call.replies == [
        "I'm transferring you to billing. You're number 1 in line, "
        "with a wait of about 6 minutes. Please hold."
    ]
    assert open_call.calls[0] == (
        "transfer_to_human",
        {"department": "billing", "reason": "let me talk to someone about a refund"},
    )
    now.moment = datetime(2025, 12, 6, 11, 0, tzinfo=TZ)  # Saturday: billing closed
    closed = await converse(make_policy(db, now), said("transfer_to_human", "a person for billing please"))
    assert closed.replies == [
        "Our billing team is closed right now. We're back on Monday, December 8th at 9 AM. " + ANYTHING_ELSE
    ]
    rows = await db.read(lambda c: c.execute("SELECT COUNT(*) FROM transfers").fetchone()[0])
    assert rows == 1


async def test_feedback_rating_out_of_range_then_keypad_then_comment(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("feedback", "I want to leave feedback"),
        said("out_of_scope", "seven", rating=7),
        keys("4"),
        said("out_of_scope", "the agent was very patient"),
    )
    assert call.replies == [
        "On a scale of 1 to 5, how would you rate your experience today? You can press a key too.",
        "The rating has to be between 1 and 5. On a scale of 1 to 5, how would you rate your experience "
        "today? You can press a key too.",
        "Thank you. Is there anything you'd like to add about your experience?",
        "Thank you for rating us 4 out of 5 and for your comments. It really helps us improve. "
        + ANYTHING_ELSE,
    ]
    rows = await db.read(lambda c: c.execute("SELECT rating, comment FROM feedback").fetchall())
    assert [tuple(r) for r in rows] == [(4, "the agent was very patient")]


async def test_feedback_in_one_go_with_no_comment(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("feedback", "five stars", rating=5),
        said("deny", "no, that's all"),
    )
    assert call.calls == [("collect_feedback", {"rating": 5, "comment": ""})]


async def test_goodbye_speaks_then_ends_the_call_and_later_input_is_ignored(
    db: Database, now: FixedNow
) -> None:
    call = await converse(
        make_policy(db, now, reopen_secs=0.2),  # "hello?" comes 0.5 s later: past the grace window
        said("goodbye", "that's all, bye"),
        said("greeting", "hello?"),
        metadata={"caller_name": "Sam Hill"},
    )
    assert call.replies == ["Thanks for calling, Sam. Have a great day, goodbye!"]
    assert call.calls == [("end_call", {"reason": "caller said goodbye"})]
    assert call.results[0].status == "done" and call.results[0].result["action"] == "hangup"


async def test_anything_else_no_means_goodbye(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("check_order", "order 1002", order_id="1002"),
        said("deny", "no that's it"),
    )
    assert call.replies[-1] == "Thanks for calling. Have a great day, goodbye!"
    assert call.tools == ["check_order_status", "end_call"]


async def test_angry_caller_gets_empathy_then_an_offer_of_a_person(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("check_order", "where the hell is my order", emotion="angry"),
        said("out_of_scope", "1002!!", emotion="angry", order_id="1002"),
        said("affirm", "yes", emotion="neutral"),
    )
    assert call.replies[0] == (
        "I'm really sorry about the trouble, and I want to get this sorted for you. "
        "What's your order number? You can also type it on your keypad."
    )
    assert call.replies[1].startswith(
        "If you'd rather talk to a person, just say so and I'll connect you. Order 1 0 0 2 is on its way"
    )
    frustrated = await converse(
        make_policy(db, now), said("help", "this is so confusing", emotion="frustrated")
    )
    assert frustrated.replies[0].startswith(
        "I understand, that's frustrating. Let's fix it. I can check an order"
    )


async def test_repeat_help_small_talk_and_fallback_to_a_person(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("small_talk", "how are you?"),
        said("repeat", "sorry, what?"),
        said("help", "what can you do"),
        said("out_of_scope", "book me a flight to Paris"),
        said("out_of_scope", "what's the weather"),
        said("affirm", "yes please"),
    )
    assert call.replies[0] == "I'm doing well, thanks for asking! What can I help you with today?"
    assert call.replies[1] == call.replies[0]
    assert call.replies[2].startswith("I can check an order or track a delivery")
    assert call.replies[3].startswith("Sorry, I can't help with that.")
    assert (
        call.replies[4]
        == "Sorry, I'm still not able to help with that. Would you like me to connect you with a person?"
    )
    assert call.replies[5].startswith("I'm transferring you to customer service.")


async def test_returning_caller_is_greeted_by_name_and_topic(db: Database, now: FixedNow) -> None:
    async def memory(phone: str) -> dict[str, str]:
        return {"name": "Wei Chen", "last_topic": "a late delivery"}

    policy = make_policy(db, now, caller_lookup=memory, greet_on_start=True)
    call = await converse(policy, metadata={"caller_phone": "+15551230004"})
    assert call.replies == [
        "Hi Wei, welcome back! Last time we talked about a late delivery. How can I help you today?"
    ]


async def test_bad_keypad_keys_are_reported_not_raised(db: Database, now: FixedNow) -> None:
    call = await converse(make_policy(db, now), keys("A"), said("help", "help"))
    assert [e.message for e in call.errors] == ["ignored keypad key 'A'"]
    assert call.replies[0].startswith("I can check an order")
