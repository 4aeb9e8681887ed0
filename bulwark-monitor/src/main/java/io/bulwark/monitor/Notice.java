package io.bulwark.monitor;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One notification's content: a subject and a text for people (email, chat), and the incident as JSON
 * for programs (generic webhooks).
 */
public record Notice(String subject, String text, ObjectNode json) {}
